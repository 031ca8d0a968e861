//go:build include_oss

// Command v28registry serves distribution v2.8's registry application with
// v2.8's own OSS storage driver (github.com/denverdino/aliyungo underneath),
// configured by a YAML file given as the only argument. The benchmarks of
// package bench push the same images through it and through ossmount to
// compare the OSS requests each needs. Build it with -tags include_oss: the
// driver registers itself only under that tag.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/docker/distribution/configuration"
	"github.com/docker/distribution/registry/handlers"
	_ "github.com/docker/distribution/registry/storage/driver/oss"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "v28registry:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: v28registry CONFIG.yml")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("open config: %w", err)
	}
	cfg, err := configuration.Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("parse config %s: %w", args[0], err)
	}
	// NewApp panics when the storage driver cannot start; the panic and its
	// stack reach stderr, which the benchmark shows.
	app := handlers.NewApp(context.Background(), cfg)
	srv := &http.Server{Addr: cfg.HTTP.Addr, Handler: app}
	return srv.ListenAndServe()
}
