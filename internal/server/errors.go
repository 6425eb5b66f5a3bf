package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// apiError is an error answered with its own status and code (docs/api.md,
// Errors). Any other error a handler returns is a server fault: 500.
type apiError struct {
	status     int
	code       string
	msg        string
	version    *int64  // current version of a ref, on a conflict
	length     *uint64 // current length of a chain, on a conflict
	retryAfter int     // seconds, on 429
}

func (e *apiError) Error() string { return e.msg }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, wire.CodeBadRequest, format, args...)
}

// badEntry refuses a chain entry that does not verify, naming the
// verifier's reason.
func badEntry(err error) *apiError {
	return newError(http.StatusBadRequest, wire.CodeBadEntry, "%v", err)
}

func unauthenticated(format string, args ...any) *apiError {
	return newError(http.StatusUnauthorized, wire.CodeUnauthenticated, format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, wire.CodeForbidden, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, wire.CodeNotFound, format, args...)
}

// asAPIError returns err as an apiError, turning any other error into a
// 500 that tells the client nothing of the cause.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return newError(http.StatusInternalServerError, wire.CodeInternal, "internal server error")
}

// writeError sends the error body.
func writeError(w http.ResponseWriter, ae *apiError) {
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	_ = writeJSON(w, ae.status, wire.Error{Error: ae.msg, Code: ae.code, Version: ae.version, Length: ae.length}) // the client is gone if this fails
}

// writeJSON sends v as a JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// decodeJSON reads a request body of at most limit bytes holding exactly one
// JSON value with no unknown fields into v.
func decodeJSON(c *call, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.w, c.body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		}
		if err == nil {
			return badRequest("the body holds more than one JSON value")
		}
	}
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return newError(http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "the body is larger than %d bytes", limit)
	case errors.As(err, &syntax):
		// The message would quote the body; give only the offset.
		return badRequest("malformed JSON body at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return badRequest("malformed JSON body: field %q cannot hold a JSON %s", typ.Field, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the JSON body is empty or cut short")
	}
	return badRequest("malformed JSON body: %v", err)
}
