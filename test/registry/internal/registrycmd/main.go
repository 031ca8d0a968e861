// Command registrycmd is distribution v3's registry command (serve and
// garbage-collect) with only the filesystem storage driver linked in.
//
// Why not build github.com/distribution/distribution/v3/cmd/registry itself:
// its main links every cloud driver (Azure, GCS, S3, CloudFront) and token
// auth, whose modules are not in the test module's go.sum; pulling them in
// would add dozens of modules to a go.mod other people edit, and downloads
// to every CI run. The serve and GC code, the storage layer and the
// filesystem driver are the same packages at the version test/go.mod pins.
package main

import (
	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	// RootCmd exits non-zero by itself when serve or garbage-collect fails.
	_ = registry.RootCmd.Execute()
}
