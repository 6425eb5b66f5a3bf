// Package s3test runs a real S3 service for tests: versitygw
// (github.com/versity/versitygw) on a free loopback port, serving buckets
// from a temporary directory. `make test` installs the pinned version into
// $(go env GOPATH)/bin. Where it is missing a test is skipped with a
// message, except under CI (CI=true), where it fails: the S3 tests must
// not vanish silently there.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	s3store "github.com/coffer-backup/coffer/internal/store/s3"
)

// Credentials of the root account every Server starts with. Start puts
// them in the AWS_* environment of the test process, where the S3 client
// finds them as it would a user's.
const (
	AccessKey = "coffer-test"
	SecretKey = "coffer-test-secret-key"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir holds its buckets, one directory each.
	Dir    string
	client *awss3.Client
}

// Binary returns the path of versitygw: in $(go env GOPATH)/bin, where
// `make test` installs the pinned version, else on PATH. If there is none
// it skips the test, or fails it under CI.
func Binary(t testing.TB) string {
	t.Helper()
	if p := gopathBinary(); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	const msg = "versitygw (github.com/versity/versitygw/cmd/versitygw) is neither in $(go env GOPATH)/bin nor on PATH: run `make versitygw` (or `make test`), which installs the pinned version"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// gopathBinary returns versitygw in a GOPATH's bin, or "".
func gopathBinary() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		p := filepath.Join(dir, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// envOnce sets the AWS environment once per test process.
var envOnce sync.Once

// setEnv points the AWS environment at the test credentials. It uses
// os.Setenv rather than t.Setenv so that parallel tests may share it;
// every Server has the same credentials.
func setEnv() {
	envOnce.Do(func() {
		for k, v := range map[string]string{
			"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey, "AWS_REGION": Region,
			"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "",
			"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
		} {
			_ = os.Setenv(k, v) // fails only on an invalid name
		}
	})
}

// Start runs versitygw until the test ends, with buckets in a new
// temporary directory, and sets the AWS environment to its credentials.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	setEnv()
	dir := t.TempDir()
	var err error
	for range 5 { // a free port may be taken before versitygw binds it
		var s *Server
		if s, err = start(t, bin, dir); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

// start runs versitygw on a port that was free a moment ago and waits
// until it answers.
func start(t testing.TB, bin, dir string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", addr, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // its error is the kill's
	if err := awaitListen(addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("%w; its output:\n%s", err, out.String())
	}
	t.Cleanup(func() { stop(cmd, done) })
	s := &Server{Endpoint: "http://" + addr, Dir: dir}
	s.client, err = s3store.NewClient(context.Background(), s.Endpoint)
	return s, err
}

// stop asks versitygw to end, and kills it if it has not within a second.
func stop(cmd *exec.Cmd, done <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// awaitListen waits up to 20 seconds for addr to accept connections,
// failing early if the process ends.
func awaitListen(addr string, done <-chan struct{}) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			return fmt.Errorf("versitygw exited before listening on %s", addr)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return nil
		}
	}
	return fmt.Errorf("versitygw did not listen on %s", addr)
}

// Client returns an S3 client of the server, for looking at keys directly.
func (s *Server) Client() *awss3.Client { return s.client }

// Bucket creates a bucket with a new random name and returns the name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name, err := s.NewBucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// NewBucket creates a bucket with a new random name and returns the name;
// it serves callers that are not a test's goroutine.
func (s *Server) NewBucket(ctx context.Context) (string, error) {
	var id [6]byte
	_, _ = rand.Read(id[:]) // never fails
	name := "coffer-" + hex.EncodeToString(id[:])
	if _, err := s.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return name, nil
}

// Env returns the AWS environment that reaches the server, as
// NAME=VALUE, for a program started with its own environment.
func Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey, "AWS_REGION=" + Region,
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true"}
}

// Location returns a location in a new bucket under prefix ("" for none).
func (s *Server) Location(t testing.TB, prefix string) s3store.Location {
	t.Helper()
	return s3store.Location{Bucket: s.Bucket(t), Prefix: prefix}
}
