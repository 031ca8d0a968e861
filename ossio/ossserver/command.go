package ossserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// DefaultAddr is where `ossmount server` listens without --addr.
const DefaultAddr = "127.0.0.1:9090"

// Command runs `ossmount server [flags]`: it serves until ctx is cancelled,
// after printing "listening on http://ADDR" to stdout.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("ossmount server", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", DefaultAddr, "address to listen on (host:port; port 0 picks a free one)")
	root := fs.String("root", "", "directory that keeps buckets and objects across restarts (default: in memory)")
	ak := fs.String("access-key-id", "", "access key id clients must sign with (default $OSS_ACCESS_KEY_ID)")
	secret := fs.String("access-key-secret", "", "access key secret (default $OSS_ACCESS_KEY_SECRET; prefer the environment: flags show in ps)")
	buckets := fs.StringArray("bucket", nil, "bucket to create at start (repeatable)")
	domain := fs.String("domain", "", "domain for virtual-hosted addressing: Host BUCKET.DOMAIN")
	cnames := fs.StringArray("cname", nil, "ADDR=BUCKET: also listen on ADDR serving BUCKET at /KEY, as a custom domain does (repeatable)")
	latency := fs.Duration("latency", 0, "delay added before answering each request")
	faultRate := fs.Float64("fault-rate", 0, "share of requests (0..1) answered 500/503 or cut mid-body")
	seed := fs.Int64("seed", 1, "seed of fault injection (same seed and request order, same faults)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ossmount server [flags]\n\nServe an OSS-compatible API (for tests and local use).\nGET /_stats answers request counters as JSON; DELETE /_stats resets them.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("server: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("server: unexpected argument %q", fs.Arg(0))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("server: --log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if *ak == "" {
		*ak = os.Getenv("OSS_ACCESS_KEY_ID")
	}
	if fs.Changed("access-key-secret") {
		log.Warn("the access key secret was given as a flag; other users can read it from the process list, prefer OSS_ACCESS_KEY_SECRET")
	} else {
		*secret = os.Getenv("OSS_ACCESS_KEY_SECRET")
	}
	if *ak == "" || *secret == "" {
		return errors.New("server: missing credentials: set --access-key-id and OSS_ACCESS_KEY_SECRET (or OSS_ACCESS_KEY_ID / --access-key-secret)")
	}
	type cname struct{ addr, bucket string }
	var cns []cname
	for _, c := range *cnames {
		a, b, ok := strings.Cut(c, "=")
		if !ok || a == "" || b == "" {
			return fmt.Errorf("server: --cname %q: want ADDR=BUCKET", c)
		}
		cns = append(cns, cname{a, b})
	}
	cfg := Config{
		Root: *root, AccessKeyID: *ak, AccessKeySecret: *secret, Buckets: *buckets, Domain: *domain,
		Latency: *latency, FaultRate: *faultRate, Seed: *seed, Logger: log,
	}
	s, err := New(cfg)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer s.Close()
	for _, c := range cns {
		if !validBucketName(c.bucket) {
			return fmt.Errorf("server: --cname %s=%s: invalid bucket name", c.addr, c.bucket)
		}
	}

	var servers []*http.Server
	errc := make(chan error, 1+len(cns))
	listen := func(a string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return "", fmt.Errorf("server: listen %s: %w", a, err)
		}
		hs := newHTTPServer(h, log)
		servers = append(servers, hs)
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("server: serve %s: %w", a, err)
			}
		}()
		return ln.Addr().String(), nil
	}
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, hs := range servers {
			if hs.Shutdown(sctx) != nil {
				_ = hs.Close()
			}
		}
	}
	defer shutdown()
	for _, c := range cns {
		a, err := listen(c.addr, s.CnameHandler(c.bucket))
		if err != nil {
			return err
		}
		log.Info("serving bucket on custom domain address", "addr", a, "bucket", c.bucket)
	}
	mainAddr, err := listen(*addr, s.Handler())
	if err != nil {
		return err
	}
	log.Info("server ready", "addr", mainAddr, "root", cfg.Root, "buckets", cfg.Buckets, "domain", cfg.Domain)
	fmt.Fprintf(stdout, "listening on http://%s\n", mainAddr)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}
