package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/coffer-backup/coffer/internal/atomicfile"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-backup/coffer/internal/server/wire"
)

// Files of the self-signed certificate, under Data/tls/.
const (
	certFile     = "cert.pem"
	keyFile      = "key.pem"
	certLifetime = 20 * 365 * 24 * time.Hour // pinned, so it need not expire soon
)

// loadCert sets s.cert (and s.pin for a self-signed certificate) as the
// configuration asks.
func (s *Server) loadCert() error {
	if s.cfg.InsecureHTTP {
		return nil
	}
	if (s.cfg.TLSCert == "") != (s.cfg.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		s.cert = &cert
		return nil
	}
	cert, err := selfSigned(filepath.Join(s.cfg.Data, "tls"), s.cfg.Now())
	if err != nil {
		return fmt.Errorf("self-signed TLS certificate: %w", err)
	}
	s.cert = &cert
	s.pin = wire.Pin(cert.Certificate[0])
	return nil
}

// selfSigned loads the certificate in dir, first making it if dir has none:
// an ECDSA P-256 key and a self-signed certificate for localhost, 127.0.0.1,
// ::1 and the host name. The key is written before the certificate, so a
// certificate on disk always has its key.
func selfSigned(dir string, now time.Time) (tls.Certificate, error) {
	cp, kp := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	cert, err := tls.LoadX509KeyPair(cp, kp)
	if !errors.Is(err, fs.ErrNotExist) {
		return cert, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	certPEM, keyPEM, err := newSelfSigned(now)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.Write(kp, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.Write(cp, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// newSelfSigned makes a key and a certificate, both PEM-encoded.
func newSelfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	dns := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "localhost" {
		dns = append(dns, h)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "coffer serve"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
