package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
)

// TestServeS3 runs coffer serve with its objects in a bucket of a real S3
// service (versitygw): a user backs up, restores and checks through it,
// also after the server was killed midway through a backup and started
// again, and the objects lie in the bucket under PREFIX/accounts/.
func TestServeS3(t *testing.T) {
	s3srv := s3test.Start(t)
	bucket := s3srv.Bucket(t)
	data := t.TempDir()
	flags := []string{"--insecure-http", "--objects", "s3://" + bucket + "/server", "--s3-endpoint", s3srv.Endpoint}
	srv := startServer(t, data, "127.0.0.1:0", flags...)
	alice := newUser(t, "alice")
	var ia initOut
	alice.runJSON(t, &ia, "init", "--store", srv.URL)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, 1, 3<<20, 100<<10, 1, 0)
	alice.run(t, "backup", src)

	writeTree(t, src, 2, 40<<20, 40<<20) // a backup long enough to be killed in
	backup := alice.command(context.Background(), nil, "backup", src)
	if err := backup.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- backup.Wait() }()
	srv.awaitPackStored(t, ended)
	srv.kill()
	if err := <-ended; err == nil {
		t.Fatal("the backup ended before the server was killed; the test needs a longer backup")
	}
	startServer(t, data, srv.listen, flags...) // the same URL, closed at the end of the test
	alice.run(t, "backup", src)

	out := t.TempDir()
	alice.run(t, "restore", "latest", "--target", out)
	sameTree(t, filepath.Join(out, "src"), src)
	alice.run(t, "check", "--read-data")

	list, err := s3srv.Client().ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	packs := 0
	for _, o := range list.Contents {
		key := aws.ToString(o.Key)
		if !strings.HasPrefix(key, "server/accounts/"+ia.Account+"/") {
			t.Errorf("key %s is outside the account's prefix", key)
		}
		if strings.Contains(key, "/packs/") {
			packs++
		}
	}
	if packs == 0 {
		t.Error("no pack in the bucket")
	}
}
