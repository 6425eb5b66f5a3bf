package s3

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// defaultRegion is the region used when the environment names none, as
// most S3-compatible services accept any region in signatures.
const defaultRegion = "us-east-1"

// CanonicalEndpoint checks endpoint (CheckEndpoint) and returns the form to
// remember it by: "scheme://host[:port]" with a lower-case host. "" stays
// "" (AWS, or AWS_ENDPOINT_URL_S3).
func CanonicalEndpoint(endpoint string) (string, error) {
	if endpoint == "" {
		return "", nil
	}
	if err := CheckEndpoint(endpoint); err != nil {
		return "", err
	}
	u, _ := url.Parse(endpoint) // parsed by CheckEndpoint
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// NewClient returns an S3 client configured from the standard AWS
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_REGION, AWS_PROFILE and the shared config files), talking to
// endpoint if it is not empty. With an endpoint, from the argument or from
// AWS_ENDPOINT_URL(_S3), requests use path-style addressing, which
// S3-compatible services support without wildcard DNS.
//
// Two SDK defaults are overridden explicitly, because they broke non-AWS
// services: request checksums are sent only when an operation requires
// them (no aws-chunked CRC trailers), and payloads are streamed unsigned
// (UNSIGNED-PAYLOAD) rather than hashed in advance, so an object is read
// once, as it is sent. Integrity is the caller's: Coffer authenticates
// every byte it reads back, and content-named objects carry their SHA-256
// (Store.Put).
func NewClient(ctx context.Context, endpoint string) (*awss3.Client, error) {
	endpoint, err := CanonicalEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration from the environment: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = o.BaseEndpoint != nil
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}), nil
}
