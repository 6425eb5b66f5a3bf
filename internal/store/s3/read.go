package s3

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store"
)

// Stat returns the size of kind/name, or an error wrapping
// store.ErrNotFound.
func (s *Store) Stat(ctx context.Context, kind store.Kind, name string) (store.ObjectInfo, error) {
	if err := store.CheckOp(ctx, "stat", kind, name); err != nil {
		return store.ObjectInfo{}, err
	}
	size, err := s.size(ctx, kind, name)
	if err != nil {
		return store.ObjectInfo{}, opError("stat", kind, name, err)
	}
	return store.ObjectInfo{Name: name, Size: size}, nil
}

// size returns the size of kind/name from a HEAD request.
func (s *Store) size(ctx context.Context, kind store.Kind, name string) (int64, error) {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: &s.loc.Bucket, Key: aws.String(s.loc.key(kind, name)),
	})
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Get returns length bytes of kind/name from offset (to the end if length
// is negative). A range that starts or ends past the end of the object is
// an error naming it. The reader fails once ctx is done, and fails with
// io.ErrUnexpectedEOF if the service sends fewer bytes than the range.
func (s *Store) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	if err := store.CheckOp(ctx, "get", kind, name); err != nil {
		return nil, err
	}
	rc, err := s.get(ctx, kind, name, offset, length)
	if err != nil {
		return nil, opError("get", kind, name, err)
	}
	return rc, nil
}

// get serves Get; its errors are named by the caller.
func (s *Store) get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("offset %d is negative", offset)
	}
	if length == 0 {
		return s.empty(ctx, kind, name, offset)
	}
	in := &awss3.GetObjectInput{Bucket: &s.loc.Bucket, Key: aws.String(s.loc.key(kind, name))}
	if offset > 0 || length > 0 {
		in.Range = aws.String(store.HTTPRange(offset, length))
	}
	out, err := s.client.GetObject(ctx, in)
	if status(err) == 416 && length < 0 {
		return s.empty(ctx, kind, name, offset) // offset may be the size
	}
	if status(err) == 416 {
		return nil, fmt.Errorf("the range of %d bytes at %d is not inside the object", length, offset)
	}
	if err != nil {
		return nil, err
	}
	n, err := checkRange(out, offset, length)
	if err != nil {
		out.Body.Close()
		return nil, err
	}
	return store.RangeReader(ctx, out.Body, out.Body, string(kind)+"/"+name, n), nil
}

// empty returns an empty reader if offset is within the object's size (a
// zero-length range, or one starting at the very end).
func (s *Store) empty(ctx context.Context, kind store.Kind, name string, offset int64) (io.ReadCloser, error) {
	size, err := s.size(ctx, kind, name)
	if err != nil {
		return nil, err
	}
	if offset > size {
		return nil, fmt.Errorf("offset %d is outside its %d bytes", offset, size)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// checkRange returns how many bytes the answer to a GET of length bytes at
// offset carries, failing unless it is exactly the range asked for: a
// service answers a range that runs past the end with fewer bytes.
func checkRange(out *awss3.GetObjectOutput, offset, length int64) (int64, error) {
	if offset == 0 && length < 0 {
		return aws.ToInt64(out.ContentLength), nil
	}
	var first, last, size int64
	cr := aws.ToString(out.ContentRange)
	if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &size); err != nil || first != offset || last < first || last >= size {
		return 0, fmt.Errorf("the service answered a range request with Content-Range %q", cr)
	}
	if length >= 0 && last != offset+length-1 {
		return 0, fmt.Errorf("range of %d bytes at %d runs past the end of its %d bytes", length, offset, size)
	}
	return last - first + 1, nil
}

// List calls fn for every object of the kind. It skips keys that are not
// an object's path in the layout (a valid name in the directory it maps
// to), so stray keys cannot break it, and never reports a partial object:
// S3 shows an object only once its PUT has completed.
func (s *Store) List(ctx context.Context, kind store.Kind, fn func(store.ObjectInfo) error) error {
	if !kind.Valid() {
		return fmt.Errorf("list: unknown object kind %q", kind)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", kind, err)
	}
	dir := s.loc.keyPrefix() + string(kind) + "/"
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{Bucket: &s.loc.Bucket, Prefix: &dir})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", kind, short(err))
		}
		if err := s.listPage(kind, page, fn); err != nil {
			return err
		}
	}
	return nil
}

// listPage calls fn for every object of the kind in one page of a listing.
func (s *Store) listPage(kind store.Kind, page *awss3.ListObjectsV2Output, fn func(store.ObjectInfo) error) error {
	for _, o := range page.Contents {
		rel := strings.TrimPrefix(aws.ToString(o.Key), s.loc.keyPrefix())
		name := rel[strings.LastIndexByte(rel, '/')+1:]
		if !store.ValidName(name) || store.ObjectPath(kind, name) != rel {
			continue
		}
		if err := fn(store.ObjectInfo{Name: name, Size: aws.ToInt64(o.Size)}); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes kind/name. Deleting a missing object returns an error
// wrapping store.ErrNotFound. S3 deletes are idempotent, so the object is
// looked up first: of two Deletes racing on one object, both may succeed.
func (s *Store) Delete(ctx context.Context, kind store.Kind, name string) error {
	if err := store.CheckOp(ctx, "delete", kind, name); err != nil {
		return err
	}
	if _, err := s.size(ctx, kind, name); err != nil {
		return opError("delete", kind, name, err)
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: &s.loc.Bucket, Key: aws.String(s.loc.key(kind, name)),
	})
	if err != nil {
		return opError("delete", kind, name, err)
	}
	return nil
}
