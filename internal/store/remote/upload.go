package remote

import (
	"io"

	"github.com/coffer-backup/coffer/internal/store/upload"
)

// bodies returns the request body of try number try (from 1) of u,
// rewinding the caller's reader for every try after the first.
func bodies(u *upload.Upload) func(try int) (io.ReadCloser, int64, error) {
	return func(try int) (io.ReadCloser, int64, error) {
		if try > 1 {
			if err := u.Rewind(); err != nil {
				return nil, 0, err
			}
		}
		return u.Body(), u.Size(), nil
	}
}
