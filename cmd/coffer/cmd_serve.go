package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/coffer-backup/coffer/internal/server"
)

// serveCommand returns the serve command (docs/api.md). Its flags live in
// the closure, as no other command shares them.
func serveCommand() *command {
	var cfg server.Config
	var quota byteSize
	var tokenFile string
	var readData bool
	return &command{
		name:    "serve",
		args:    "[migrate --read-data] --data DIR [--db URL --log-key FILE] [--objects s3://BUCKET/PREFIX [--s3-endpoint URL] [--object-catalog]] [--listen ADDR] [--tls-cert F --tls-key F] [--insecure-http] [--quota BYTES] [--rate N] [--budget N] [--trusted-proxy CIDR]... [--registration-token-file F] [--log-origin NAME] [--witness VKEY=URL]... [--web]",
		summary: "run a server that stores the encrypted repositories of many accounts",
		noKeys:  true,
		setup: func(fs *flag.FlagSet, _ *opts) {
			fs.StringVar(&cfg.Data, "data", "", "data directory: metadata database, log key, account stores, TLS certificate (required unless --db and --objects hold everything and --tls-cert or --insecure-http is given)")
			fs.StringVar(&cfg.DB, "db", "", "PostgreSQL metadata database, postgres://…, which several instances may share (default: SQLite in DIR/meta.db); needs --log-key; give a password in PGPASSWORD or ~/.pgpass, not the URL")
			fs.StringVar(&cfg.LogKeyFile, "log-key", "", "transparency log signing key file, made if missing (default: DIR/log.key); every instance on one --db must be given the same one")
			fs.StringVar(&cfg.Objects, "objects", "", "where accounts' objects are kept: s3://BUCKET/PREFIX, with credentials and region from the AWS_* environment (default: DIR/accounts)")
			fs.BoolVar(&cfg.ObjectCatalog, "object-catalog", false, "with --db and --objects: keep an authoritative catalog of the objects in PostgreSQL (consistent paged listings, uploads under unique keys, a sweeper of dead keys)")
			fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", "", "with --objects: the URL of an S3-compatible service, such as http://127.0.0.1:7070 (default: AWS)")
			fs.StringVar(&cfg.Listen, "listen", server.DefaultListen, "TCP address to listen on")
			fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate to serve (default: a self-signed one made in DIR/tls, pinned by clients)")
			fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
			fs.BoolVar(&cfg.InsecureHTTP, "insecure-http", false, "serve plain HTTP; only on a loopback --listen address")
			fs.Var(&quota, "quota", "most bytes each account may store, e.g. 500GiB (default: no limit)")
			fs.Float64Var(&cfg.Rate, "rate", server.DefaultRate, "requests per second allowed to each account and each client address, sustained; 0: no limit")
			fs.Float64Var(&cfg.Budget, "budget", server.DefaultBudget, "requests each account and each client address may make at once, refilled at --rate per second")
			fs.StringVar(&tokenFile, "registration-token-file", "", "file holding a token that registering an account requires (default: anyone may register)")
			fs.StringVar(&cfg.LogOrigin, "log-origin", "", "origin (name) of the transparency log, fixed by the key made in DIR/log.key on first start (default: coffer.log/ and 16 random hex digits)")
			fs.BoolVar(&readData, "read-data", false, "with migrate: read every copied object back and check its SHA-256 against its name")
			fs.Var((*prefixFlag)(&cfg.TrustedProxies), "trusted-proxy", "a load balancer's or reverse proxy's address or CIDR prefix: for its requests, the client's address (rate limits, logs) is the rightmost untrusted one of X-Forwarded-For (repeatable)")
			fs.BoolVar(&cfg.Web, "web", false, "allow read-only browser sessions that accounts approve (coffer web) and serve the web app at /")
			fs.Var((*witnessFlag)(&cfg.Witnesses), "witness", "a witness that cosigns the log's checkpoints: its verifier key, '=', and its submission URL prefix (repeatable)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 && args[0] == "migrate" {
				return runMigrate(ctx, e, migrateConfig(cfg, readData), args[1:])
			}
			if len(args) > 0 {
				return usageError{"serve takes no arguments but migrate"}
			}
			if cfg.Data == "" && (cfg.DB == "" || cfg.Objects == "") {
				return usageError{"serve needs --data DIR, unless --db and --objects hold everything"}
			}
			if cfg.DB != "" && cfg.LogKeyFile == "" {
				return usageError{"serve --db needs --log-key FILE: every instance signs the log with the same key"}
			}
			cfg.Quota = int64(quota)
			cfg.Log = e.stderr
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return err
				}
				if cfg.RegistrationToken = strings.TrimSpace(string(b)); cfg.RegistrationToken == "" {
					return fmt.Errorf("registration token file %s is empty", tokenFile)
				}
			}
			if cfg.Web && webAppHandler != nil {
				cfg.WebApp = webAppHandler()
			}
			return server.Run(ctx, cfg)
		},
	}
}

// webAppHandler returns the web app coffer serve --web serves at /; nil
// until the web app (internal/webui) sets it from an init function.
var webAppHandler func() http.Handler

// witnessFlag is a repeatable flag value: VKEY=URL, a witness's cosigner
// verifier key and its submission URL prefix, split at the first "=http".
type witnessFlag []server.Witness

func (w *witnessFlag) String() string {
	var s []string
	for _, x := range *w {
		s = append(s, x.VKey+"="+x.URL)
	}
	return strings.Join(s, " ")
}

func (w *witnessFlag) Set(s string) error {
	i := strings.Index(s, "=http")
	if i <= 0 || !strings.HasPrefix(s[i+1:], "https://") && !strings.HasPrefix(s[i+1:], "http://") {
		return errors.New("want VKEY=URL: a witness's verifier key, '=' and its http(s) URL")
	}
	*w = append(*w, server.Witness{VKey: s[:i], URL: s[i+1:]})
	return nil
}

// prefixFlag is a repeatable flag value: a CIDR prefix such as
// 10.0.0.0/8, or one address, which stands for its own prefix.
type prefixFlag []netip.Prefix

func (p *prefixFlag) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.String())
	}
	return strings.Join(s, " ")
}

func (p *prefixFlag) Set(s string) error {
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return errors.New("want an IP address or a CIDR prefix such as 10.0.0.0/8")
		}
		pf = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	*p = append(*p, pf.Masked())
	return nil
}

// byteSize is a flag value: a number of bytes, optionally with a binary
// suffix K, M, G or T (also written KiB, MiB, GiB, TiB).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num, shift := s, 0
	for i, unit := range []string{"K", "M", "G", "T"} {
		if n, ok := strings.CutSuffix(strings.TrimSuffix(s, "iB"), unit); ok {
			num, shift = n, 10*(i+1)
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return errors.New("want a number of bytes such as 1000000, 500GiB or 2T")
	}
	*b = byteSize(n << shift)
	return nil
}
