package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// ConflictError is what SetRef returns when the reference is not at the
// version given: another device changed it first.
type ConflictError struct {
	Ref     string
	Version int64 // the reference's version, as the server reported it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("ref %s was changed by another device: it is at version %d", e.Ref, e.Version)
}

// refPath is the URL path of a reference; its name follows the rules of
// object names.
func refPath(name string) (string, error) {
	if !store.ValidName(name) {
		return "", fmt.Errorf("invalid ref name %q", name)
	}
	return "/v1/refs/" + name, nil
}

// GetRef returns the value and version of the reference name, or an error
// wrapping store.ErrNotFound if it was never set.
func (s *Store) GetRef(ctx context.Context, name string) ([]byte, int64, error) {
	path, err := refPath(name)
	if err != nil {
		return nil, 0, err
	}
	rq := &request{method: http.MethodGet, path: path, what: "GET ref " + name}
	var r wire.Ref
	if _, err := s.callJSON(ctx, rq, &r); err != nil {
		return nil, 0, err
	}
	if len(r.Value) > wire.MaxRefSize || r.Version < 1 {
		return nil, 0, fmt.Errorf("%s: malformed answer from %s: %d bytes at version %d", rq.what, s.ep, len(r.Value), r.Version)
	}
	return r.Value, r.Version, nil
}

// SetRef sets the reference name to value if it is at version (0 for a
// reference never set) and returns its new version. If another device
// changed it first, SetRef returns a *ConflictError and changes nothing.
func (s *Store) SetRef(ctx context.Context, name string, value []byte, version int64) (int64, error) {
	path, err := refPath(name)
	if err != nil {
		return 0, err
	}
	if len(value) > wire.MaxRefSize || version < 0 {
		return 0, fmt.Errorf("ref %s: %d bytes at version %d: values are at most %d bytes, versions not negative", name, len(value), version, wire.MaxRefSize)
	}
	rq := &request{method: http.MethodPut, path: path, what: "PUT ref " + name}
	if err := rq.jsonBody(wire.Ref{Value: append([]byte{}, value...), Version: version}); err != nil {
		return 0, err
	}
	var r wire.RefVersion
	_, err = s.callJSON(ctx, rq, &r)
	var se *Error
	switch {
	case errors.As(err, &se) && se.Status == http.StatusConflict:
		if rq.ambiguous && s.refIs(ctx, name, value, version+1) {
			return version + 1, nil // an earlier try did it
		}
		return 0, &ConflictError{Ref: name, Version: se.Version}
	case err != nil:
		return 0, err
	case r.Version != version+1:
		return 0, fmt.Errorf("%s: the server moved it from version %d to %d", rq.what, version, r.Version)
	}
	return r.Version, nil
}

// refIs reports whether reference name holds value at version.
func (s *Store) refIs(ctx context.Context, name string, value []byte, version int64) bool {
	v, n, err := s.GetRef(ctx, name)
	return err == nil && n == version && bytes.Equal(v, value)
}
