// Command ossmount mounts an Alibaba Cloud OSS bucket prefix as a POSIX
// directory tree, so that a stock container registry (or any program that
// writes files) keeps its data in OSS. `ossmount server` runs the
// OSS-compatible server the tests and the quick start use.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/ossmount/ossmount/fs"
	"github.com/ossmount/ossmount/metacache"
	"github.com/ossmount/ossmount/ossio"
	"github.com/ossmount/ossmount/ossio/ossserver"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		err := ossserver.Command(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return
			}
			fmt.Fprintln(os.Stderr, "ossmount server:", err)
			os.Exit(1)
		}
		return
	}
	if err := mountCommand(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "ossmount:", err)
		os.Exit(1)
	}
}

// readyFD is the descriptor a background child reports readiness on.
const (
	readyEnv = "OSSMOUNT_READY_FD"
	readyFD  = 3
)

func mountCommand(args []string) error {
	cfg, err := parseMountConfig(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.secretFromFlag && os.Getenv(readyEnv) == "" {
		fmt.Fprintln(os.Stderr, "ossmount: warning: the access key secret was given on the command line, where other users can see it; prefer OSS_ACCESS_KEY_SECRET or --credentials-file")
	}
	if !cfg.foreground && os.Getenv(readyEnv) == "" {
		// Refuse a bad mountpoint before leaving anything behind (log, cache dir).
		if err := checkMountpoint(cfg.mountpoint, cfg.cacheDir); err != nil {
			return err
		}
		return daemonize(cfg)
	}
	return runMount(cfg)
}

// daemonize re-executes ossmount in the background (Go cannot fork) and
// returns once the child reports the mount live, or its error.
func daemonize(cfg *mountConfig) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(cfg.cacheDir, "ossmount.log")
	if err := os.MkdirAll(cfg.cacheDir, 0o700); err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(self, cfg.childArgs...)
	// Secrets travel in the environment, never on the child's command line.
	cmd.Env = append(os.Environ(), readyEnv+"="+strconv.Itoa(readyFD),
		"OSS_ACCESS_KEY_ID="+cfg.oss.AccessKeyID, "OSS_ACCESS_KEY_SECRET="+cfg.oss.AccessKeySecret)
	if cfg.oss.SecurityToken != "" {
		cmd.Env = append(cmd.Env, "OSS_SESSION_TOKEN="+cfg.oss.SecurityToken)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start background process: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	if s := strings.TrimSpace(string(msg)); s != "ok" {
		cmd.Wait()
		if s == "" {
			return fmt.Errorf("background process exited; see %s", logPath)
		}
		return errors.New(s)
	}
	cmd.Process.Release()
	return nil
}

func runMount(cfg *mountConfig) (err error) {
	var ready *os.File
	if os.Getenv(readyEnv) != "" {
		ready = os.NewFile(readyFD, "ready")
		defer func() {
			if ready != nil {
				if err != nil {
					fmt.Fprintln(ready, err)
				}
				ready.Close()
			}
		}()
	}
	log := newLogger(cfg.logLevel, os.Stderr)
	if os.Getenv("GOMEMLIMIT") == "" {
		// Keep the heap near its live size: the daemon's budget is 200 MiB.
		debug.SetMemoryLimit(150 << 20)
	}
	if err := checkMountpoint(cfg.mountpoint, cfg.cacheDir); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.cacheDir, 0o700); err != nil {
		return fmt.Errorf("cache dir %s: %w", cfg.cacheDir, err)
	}

	if cfg.oss.Endpoint == "" {
		stop, err := startEmbedded(cfg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	cfg.oss.Logger = log
	client, err := ossio.New(cfg.oss)
	if err != nil {
		return err
	}
	checkCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err = client.CheckBucket(checkCtx)
	cancel()
	if err != nil {
		return describeCheckError(cfg, err)
	}

	cache, err := metacache.Open(filepath.Join(cfg.cacheDir, "meta"), metacache.Options{
		StatTTL: cfg.statTTL, NegativeTTL: cfg.negativeTTL, Logger: log})
	if err != nil {
		return fmt.Errorf("cache dir %s: %w", cfg.cacheDir, err)
	}
	defer cache.Close()

	fsys, err := fs.New(fs.Options{
		Client: client, Cache: cache, Prefix: cfg.prefix, CacheDir: cfg.cacheDir,
		UploadDelay: cfg.uploadDelay, FsyncRemote: cfg.fsyncRemote, StatTTL: cfg.statTTL, CacheSize: cfg.cacheSize, KernelFiles: cfg.kernelFiles,
		UID: cfg.uid, GID: cfg.gid, Umask: cfg.umask, ReadOnly: cfg.readOnly, Logger: log,
	})
	if err != nil {
		return err
	}
	defer fsys.Close()

	if cfg.metricsAddr != "" {
		if err := serveMetrics(cfg.metricsAddr, client, fsys, log); err != nil {
			return err
		}
	}

	timeout := time.Second
	server, err := gofs.Mount(cfg.mountpoint, fsys.Root(), &gofs.Options{
		MountOptions: fuse.MountOptions{
			FsName:        "ossmount:" + cfg.bucket + ":" + cfg.prefix,
			Name:          "ossmount",
			AllowOther:    cfg.allowOther,
			Options:       cfg.fuseOptions(),
			DirectMount:   true,
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
			DisableXAttrs: true,
		},
		RootStableAttr: &gofs.StableAttr{Ino: 1}, // stat of the mountpoint shows a real inode number
		// Small inode numbers: go-fuse's default starts at 2^63, which 32-bit
		// programs without large-file support cannot stat (EOVERFLOW).
		FirstAutomaticIno: 2,
		EntryTimeout:      &timeout,
		AttrTimeout:       &timeout,
		NegativeTimeout:   &timeout,
		// fs fills in modes and owners, the mount's defaults included: a
		// mode of 0000 or an owner of root set on purpose must stay.
		NullPermissions: true,
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w", cfg.mountpoint, err)
	}
	log.Info("mounted", "bucket", cfg.bucket, "prefix", cfg.prefix, "mountpoint", cfg.mountpoint, "cache_dir", cfg.cacheDir)
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
		ready = nil
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	unmounted := make(chan struct{})
	go func() { server.Wait(); close(unmounted) }()
	select {
	case s := <-sigs:
		log.Info("signal received; uploading pending changes, then unmounting", "signal", s.String(), "pending", fsys.Pending())
		flush(fsys, cfg.flushTimeout, log)
		if err := server.Unmount(); err != nil {
			log.Error("unmount", "err", err)
		}
		<-unmounted
	case <-unmounted:
		log.Info("unmounted; uploading pending changes", "pending", fsys.Pending())
	}
	flush(fsys, cfg.flushTimeout, log)
	return nil
}

// serveMetrics exposes Prometheus metrics: OSS requests by API, and the
// changes waiting to be carried out in OSS.
func serveMetrics(addr string, client *ossio.Client, fsys *fs.FS, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(client.Collector(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ossmount_pending_changes", Help: "Changes journaled but not yet carried out in OSS."},
			func() float64 { return float64(fsys.Pending()) }))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Go's profiler, for finding where a slow workload spends its time
	// (go tool pprof http://ADDR/debug/pprof/profile); as private as the
	// metrics address.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.Serve(ln, mux); err != nil {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}

func flush(fsys *fs.FS, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := fsys.Flush(ctx); err != nil {
		log.Warn("pending changes stay journaled for the next mount with this cache dir", "pending", fsys.Pending(), "err", err)
	}
}

// startEmbedded serves the bucket from an in-process OSS-compatible server
// persisted in a local directory: the quick start without a cloud account.
func startEmbedded(cfg *mountConfig, log *slog.Logger) (func(), error) {
	secret := make([]byte, 16)
	rand.Read(secret)
	cfg.oss.AccessKeyID = "embedded"
	cfg.oss.AccessKeySecret = hex.EncodeToString(secret)
	cfg.oss.Region = ""
	srv, err := ossserver.Start(ossserver.Config{
		Root: cfg.embeddedRoot, AccessKeyID: cfg.oss.AccessKeyID, AccessKeySecret: cfg.oss.AccessKeySecret,
		Buckets: []string{cfg.bucket}, Logger: log,
	}, "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded OSS server in %s: %w", cfg.embeddedRoot, err)
	}
	cfg.oss.Endpoint = srv.Endpoint
	log.Info("no endpoint given: serving the bucket from the embedded OSS-compatible server", "root", cfg.embeddedRoot)
	return func() { srv.Close() }, nil
}

func describeCheckError(cfg *mountConfig, err error) error {
	switch {
	case ossio.IsUnreachable(err):
		return fmt.Errorf("cannot reach OSS endpoint %s: %w", cfg.oss.Endpoint, err)
	case ossio.IsAuth(err):
		return fmt.Errorf("OSS refused the credentials for access key id %q (wrong key id or secret?): %w", cfg.oss.AccessKeyID, err)
	case ossio.IsBucketMissing(err):
		return fmt.Errorf("bucket %q does not exist at %s", cfg.bucket, cfg.oss.Endpoint)
	}
	return fmt.Errorf("checking bucket %q at %s: %w", cfg.bucket, cfg.oss.Endpoint, err)
}

// checkMountpoint refuses a mountpoint that is missing, not a directory,
// not empty, already a mount, or holding the cache directory.
func checkMountpoint(mp, cacheDir string) error {
	if rel, err := filepath.Rel(mp, cacheDir); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cache dir %s is inside the mountpoint %s", cacheDir, mp)
	}
	st, err := os.Stat(mp)
	if err != nil {
		return fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("mountpoint %s is not a directory", mp)
	}
	if mounted, _ := isMountpoint(mp); mounted {
		return fmt.Errorf("mountpoint %s is already a mount", mp)
	}
	entries, err := os.ReadDir(mp)
	if err != nil {
		return fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("mountpoint %s is not empty", mp)
	}
	return nil
}

func isMountpoint(p string) (bool, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && unescapeMountinfo(f[4]) == p {
			return true, nil
		}
	}
	return false, nil
}

func unescapeMountinfo(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// mountConfig is everything the mount command was told, from flags, -o
// options and the environment.
type mountConfig struct {
	bucket, prefix, mountpoint string
	oss                        ossio.Config
	secretFromFlag             bool
	cacheDir, embeddedRoot     string
	foreground                 bool
	logLevel, metricsAddr      string
	statTTL, negativeTTL       time.Duration
	uploadDelay, flushTimeout  time.Duration
	fsyncRemote                bool
	cacheSize                  int64
	kernelFiles                int
	uid, gid, umask            uint32
	readOnly, allowOther       bool
	childArgs                  []string // the command line for a background child
}

func (c *mountConfig) fuseOptions() []string {
	opts := []string{"default_permissions"}
	if c.readOnly {
		opts = append(opts, "ro")
	}
	return opts
}

// ignoredMountOptions are mount(8) options meant for mount itself or that
// FUSE handles; fstab lines carry them.
var ignoredMountOptions = map[string]bool{
	"rw": true, "dev": true, "nodev": true, "suid": true, "nosuid": true, "exec": true, "noexec": true,
	"auto": true, "noauto": true, "nofail": true, "_netdev": true, "user": true, "users": true,
	"nouser": true, "defaults": true, "atime": true, "noatime": true, "relatime": true, "default_permissions": true,
}

const usage = `Usage:
  ossmount [flags] BUCKET[:PREFIX] MOUNTPOINT   mount; returns once the mount is live
  ossmount server [flags]                       OSS-compatible server (see ossmount server --help)

Without --endpoint (or OSS_ENDPOINT) the bucket is served by an embedded
OSS-compatible server whose data lives in --embedded-root.

Credentials come from OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET /
OSS_SESSION_TOKEN (or OSS_KEY / OSS_SECRET), a --credentials-file, or flags.
BUCKET and PREFIX may come from OSS_BUCKET and STORAGE_PATH.

Flags:
`

func parseMountConfig(args []string, getenv func(string) string, stderr io.Writer) (*mountConfig, error) {
	fl := pflag.NewFlagSet("ossmount", pflag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, usage); fl.PrintDefaults() }
	c := &mountConfig{}
	env := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	var opts []string
	var secret, credFile, fsyncMode, cacheSize string
	fl.StringVar(&c.oss.Endpoint, "endpoint", env("OSS_ENDPOINT"), "OSS endpoint URL (env OSS_ENDPOINT); empty: the embedded server")
	fl.StringVar(&c.oss.Region, "region", env("OSS_REGION"), "OSS region such as cn-hangzhou; set, requests use signature V4 (env OSS_REGION)")
	fl.StringVar(&c.oss.AccessKeyID, "access-key-id", env("OSS_ACCESS_KEY_ID", "OSS_KEY"), "access key id (env OSS_ACCESS_KEY_ID, OSS_KEY)")
	fl.StringVar(&secret, "access-key-secret", "", "access key secret; visible to other users: prefer env OSS_ACCESS_KEY_SECRET (or OSS_SECRET) or --credentials-file")
	fl.StringVar(&c.oss.SecurityToken, "security-token", env("OSS_SESSION_TOKEN"), "STS security token (env OSS_SESSION_TOKEN)")
	fl.StringVar(&credFile, "credentials-file", "", "file with lines access_key_id=..., access_key_secret=..., security_token=... (mode 0600)")
	fl.BoolVar(&c.oss.UseCname, "cname", false, "the endpoint is a custom domain bound to the bucket")
	fl.StringVar(&c.cacheDir, "cache-dir", "", "metadata cache, journal and staging files (default /var/cache/ossmount/BUCKET[-PREFIX])")
	fl.StringVar(&c.embeddedRoot, "embedded-root", "", "data directory of the embedded server (default /var/lib/ossmount/embedded)")
	fl.StringSliceVarP(&opts, "options", "o", nil, "mount options: ro, allow_other, uid=N, gid=N, umask=NNN, and any long flag as name=value")
	fl.BoolVarP(&c.foreground, "foreground", "f", false, "stay in the foreground; SIGTERM/SIGINT upload pending changes, then unmount")
	fl.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&c.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics and Go profiles at /debug/pprof/ (e.g. 127.0.0.1:9100)")
	fl.DurationVar(&c.statTTL, "stat-ttl", time.Minute, "how long attributes and listings from OSS are trusted (content-addressed blobs: forever)")
	fl.DurationVar(&c.negativeTTL, "negative-ttl", 5*time.Second, "how long a path missing in OSS is trusted to stay missing")
	fl.DurationVar(&c.uploadDelay, "upload-delay", time.Second, "how long a closed file waits before its upload starts")
	fl.DurationVar(&c.flushTimeout, "flush-timeout", 5*time.Minute, "how long unmount and SIGTERM wait for pending uploads; the rest stays journaled")
	fl.StringVar(&cacheSize, "cache-size", "1GiB", "local disk for copies of files already in OSS, kept for reads and appends (least recently used out first)")
	fl.StringVar(&fsyncMode, "fsync", "local", "local: fsync returns once data and journal are on local disk; remote: also once in OSS")
	fl.Int64Var(&c.oss.PartSize, "part-size", 8<<20, "multipart part size in bytes")
	fl.IntVar(&c.oss.Concurrency, "concurrency", 8, "parallel parts per transfer")
	fl.BoolVar(&c.readOnly, "read-only", false, "mount read-only (same as -o ro)")
	fl.IntVar(&c.kernelFiles, "kernel-files", 20000, "file names the kernel may hold (about 700 bytes of daemon memory each); past it the oldest are forgotten")
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	umask := uint32(0o022)
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		var err error
		switch {
		case k == "ro":
			c.readOnly = true
		case k == "allow_other":
			c.allowOther = true
		case k == "uid" || k == "gid" || k == "umask":
			base := 10
			if k == "umask" {
				base = 8
			}
			var n uint64
			n, err = strconv.ParseUint(v, base, 32)
			switch k {
			case "uid":
				uid = uint32(n)
			case "gid":
				gid = uint32(n)
			default:
				umask = uint32(n)
			}
		case ignoredMountOptions[k]:
		case fl.Lookup(strings.ReplaceAll(k, "_", "-")) != nil && k != "options":
			if !hasValue {
				v = "true"
			}
			err = fl.Set(strings.ReplaceAll(k, "_", "-"), v)
		default:
			return nil, fmt.Errorf("unknown -o option %q", o)
		}
		if err != nil {
			return nil, fmt.Errorf("-o %s: %w", o, err)
		}
	}
	c.uid, c.gid, c.umask = uid, gid, umask
	// A missing path must not stay missing longer than anything else stays cached.
	c.negativeTTL = min(c.negativeTTL, c.statTTL)
	size, err := humanize.ParseBytes(cacheSize)
	if err != nil {
		return nil, fmt.Errorf("--cache-size: %w", err)
	}
	c.cacheSize = int64(size)
	if c.kernelFiles < 1 {
		return nil, fmt.Errorf("--kernel-files must be at least 1, not %d", c.kernelFiles)
	}
	switch fsyncMode {
	case "local":
	case "remote":
		c.fsyncRemote = true
	default:
		return nil, fmt.Errorf("--fsync must be local or remote, not %q", fsyncMode)
	}
	if secret != "" {
		c.secretFromFlag = true
	} else {
		secret = env("OSS_ACCESS_KEY_SECRET", "OSS_SECRET")
	}
	c.oss.AccessKeySecret = secret
	if credFile != "" {
		if err := readCredentialsFile(credFile, &c.oss); err != nil {
			return nil, err
		}
	}

	pos := fl.Args()
	switch {
	case len(pos) == 2:
	case len(pos) == 1 && env("OSS_BUCKET") != "":
		pos = []string{env("OSS_BUCKET"), pos[0]}
	default:
		fl.Usage()
		return nil, errors.New("need BUCKET[:PREFIX] and MOUNTPOINT")
	}
	c.bucket, c.prefix, _ = strings.Cut(pos[0], ":")
	if c.prefix == "" {
		c.prefix = env("STORAGE_PATH")
	}
	c.prefix = strings.Trim(c.prefix, "/")
	if c.prefix != "" {
		c.prefix += "/"
	}
	if !validBucketName(c.bucket) {
		return nil, fmt.Errorf("bad bucket name %q: 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-'", c.bucket)
	}
	if c.mountpoint, err = filepath.Abs(pos[1]); err != nil {
		return nil, err
	}
	c.oss.Bucket = c.bucket
	if c.cacheDir == "" {
		name := c.bucket
		if p := strings.TrimSuffix(c.prefix, "/"); p != "" {
			name += "-" + strings.ReplaceAll(p, "/", "_")
		}
		c.cacheDir = filepath.Join("/var/cache/ossmount", name)
	}
	if c.cacheDir, err = filepath.Abs(c.cacheDir); err != nil {
		return nil, err
	}
	if c.embeddedRoot == "" {
		c.embeddedRoot = "/var/lib/ossmount/embedded"
	}
	if c.oss.Endpoint != "" && (c.oss.AccessKeyID == "" || c.oss.AccessKeySecret == "") {
		return nil, errors.New("no credentials: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET, or use --credentials-file")
	}
	// The background child gets the same command line minus the secret,
	// which travels in its environment.
	c.childArgs = []string{"--foreground"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--access-key-secret" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--access-key-secret=") {
			continue
		}
		c.childArgs = append(c.childArgs, a)
	}
	return c, nil
}

func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '-' || b[len(b)-1] == '-' {
		return false
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// readCredentialsFile reads key=value lines; a file others can read is refused.
func readCredentialsFile(path string, c *ossio.Config) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("credentials file %s is readable by group or others (mode %o); chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("credentials file: %w", err)
	}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("credentials file %s line %d: want key=value", path, n+1)
		}
		switch strings.TrimSpace(k) {
		case "access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "access_key_secret":
			c.AccessKeySecret = strings.TrimSpace(v)
		case "security_token":
			c.SecurityToken = strings.TrimSpace(v)
		default:
			return fmt.Errorf("credentials file %s line %d: unknown key %q", path, n+1, strings.TrimSpace(k))
		}
	}
	return nil
}
