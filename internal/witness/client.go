package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	neturl "net/url"
	"strings"

	"github.com/coffer-backup/coffer/internal/deadline"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// ErrOldSize means the witness has cosigned a checkpoint of another size
// than the old size sent; Submit returns that size with it, and the log
// should retry with a consistency proof from there.
var ErrOldSize = errors.New("witness holds another old size")

// maxCosigLines bounds the signature lines a witness may return.
const maxCosigLines = 16

// maxResponseSize bounds a witness's response body.
const maxResponseSize = 64 << 10

// StatusError is a witness's refusal other than ErrOldSize: its HTTP
// status and the start of its message.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("witness refused the checkpoint: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Submit asks the witness whose submission prefix is url (it POSTs to
// url + "/add-checkpoint") to cosign signedCheckpoint, proving it
// consistent with the witness's last cosigned size oldSize. It returns
// the cosignature lines, to be appended to the signed checkpoint and
// checked by a tlog.Policy; or, on 409 with the witness's size, that size
// and an error wrapping ErrOldSize; or a *StatusError for another refusal.
// A witness cannot hold it for ever: unless client's transport is a
// *deadline.Transport with limits of its own, the default limits apply
// (internal/deadline), and ctx or client's Timeout may bound it further.
func Submit(ctx context.Context, client *http.Client, url string, oldSize uint64, proof []tlog.Hash, signedCheckpoint []byte) (cosigLines []byte, witnessSize uint64, err error) {
	client = deadline.Client(client)
	url = strings.TrimSuffix(url, "/") + "/add-checkpoint"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(FormatRequest(oldSize, proof, signedCheckpoint)))
	if err != nil {
		return nil, 0, fmt.Errorf("witness %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("witness %s: %w", url, unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("witness %s: reading its response: %w", url, err)
	case len(b) > maxResponseSize:
		return nil, 0, fmt.Errorf("witness %s: a response over %d bytes: %w", url, maxResponseSize, tlog.ErrMalformed)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := checkCosigLines(b); err != nil {
			return nil, 0, fmt.Errorf("witness %s: %w", url, err)
		}
		return b, 0, nil
	case resp.StatusCode == http.StatusConflict && mt == SizeContentType:
		n, err := tlog.ParseSize(strings.TrimSuffix(string(b), "\n"))
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return nil, 0, fmt.Errorf("witness %s: 409 without a valid size: %w", url, tlog.ErrMalformed)
		}
		return nil, n, fmt.Errorf("witness %s has cosigned size %d, not %d: %w", url, n, oldSize, ErrOldSize)
	}
	return nil, 0, &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(b[:min(len(b), 200)]))}
}

// unwrapURL drops the *url.Error around err: the caller names the URL.
func unwrapURL(err error) error {
	if ue, ok := err.(*neturl.Error); ok {
		return ue.Err
	}
	return err
}

// checkCosigLines checks that b is 1 to maxCosigLines note signature
// lines ("— <name> <base64>\n"); the signatures are checked later, by a
// tlog.Policy over the checkpoint they are appended to.
func checkCosigLines(b []byte) error {
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < 2 || len(lines) > maxCosigLines+1 || lines[len(lines)-1] != "" {
		return fmt.Errorf("response is not 1 to %d signature lines: %w", maxCosigLines, tlog.ErrMalformed)
	}
	for _, l := range lines[:len(lines)-1] {
		if f := strings.Fields(l); !strings.HasPrefix(l, "— ") || len(f) != 3 || strings.Count(l, " ") != 2 {
			return fmt.Errorf("response line %.80q is not a signature line: %w", l, tlog.ErrMalformed)
		}
	}
	return nil
}
