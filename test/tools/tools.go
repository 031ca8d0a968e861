//go:build tools

// Package tools pins modules the registry end-to-end tests will use
// (distribution v3's storage driver suite and registry, go-containerregistry),
// so that `go mod tidy` keeps them and the module cache stays warm before
// those tests exist. The build tag keeps it out of every build.
package tools

import (
	_ "github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/testsuites"
	_ "github.com/google/go-containerregistry/pkg/name"
	_ "github.com/google/go-containerregistry/pkg/v1/random"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
)
