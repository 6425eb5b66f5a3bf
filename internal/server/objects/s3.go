package objects

import (
	"context"
	"errors"
	"fmt"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/s3"
)

// S3 is a Backend in an S3 bucket: each account is an S3 store at
// PREFIX/accounts/<account>/. It keeps only the client in memory.
type S3 struct {
	client *awss3.Client
	loc    s3.Location
}

var _ Backend = (*S3)(nil)

// NewS3 returns the backend at loc on the service at endpoint ("" for
// AWS), with credentials from the AWS environment. It checks the bucket
// and refuses, with s3.ErrNoExclusiveCreate, a service that does not
// honour If-None-Match: * (s3.Store.ProbeExclusive, under PREFIX/tmp/).
func NewS3(ctx context.Context, loc s3.Location, endpoint string) (*S3, error) {
	client, err := s3.NewClient(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("objects %s: %w", loc, err)
	}
	b := &S3{client: client, loc: loc}
	root := s3.New(client, loc)
	if err := root.Ping(ctx); err != nil {
		return nil, fmt.Errorf("objects %s: %w", loc, err)
	}
	if err := root.ProbeExclusive(ctx); err != nil {
		return nil, fmt.Errorf("objects %s: %w", loc, err)
	}
	return b, nil
}

// store returns the store of an account; account must be valid.
func (b *S3) store(account string) *s3.Store {
	return s3.New(b.client, b.loc.Join(AccountsDir+"/"+account))
}

// Create returns the account's store after checking that no key lies
// under its prefix. S3 has no directories, so nothing is written.
func (b *S3) Create(ctx context.Context, account string) (store.Store, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	st := b.store(account)
	if err := st.CheckEmpty(ctx); err != nil {
		return nil, fmt.Errorf("creating the objects of account %s: %w", account, err)
	}
	return st, nil
}

// Account returns the account's store without a request.
func (b *S3) Account(account string) (store.Store, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	return b.store(account), nil
}

// Remove deletes every key under the account's prefix.
func (b *S3) Remove(ctx context.Context, account string) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	prefix := b.loc.Join(AccountsDir+"/"+account).Prefix + "/"
	pages := awss3.NewListObjectsV2Paginator(b.client, &awss3.ListObjectsV2Input{Bucket: &b.loc.Bucket, Prefix: &prefix})
	var errs []error
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("removing the objects of account %s: %w", account, err)
		}
		for _, o := range page.Contents {
			_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &b.loc.Bucket, Key: o.Key})
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing the objects of account %s: %w", account, err)
	}
	return nil
}

// Ping checks that the bucket answers.
func (b *S3) Ping(ctx context.Context) error { return s3.New(b.client, b.loc).Ping(ctx) }

// Close releases nothing: the client holds only idle connections.
func (b *S3) Close() error { return nil }
