package registry

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ossmount/ossmount/test/harness"
)

// cmdPackage is the registry command built for the tests; see its doc
// comment for why it is not distribution's cmd/registry itself.
const cmdPackage = "github.com/ossmount/ossmount/test/registry/internal/registrycmd"

var regBuild struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the registry binary, building it on first use.
// It lives next to the ossmount binary, in the directory harness.Main
// removes when the test binary ends.
func Binary(t testing.TB) string {
	t.Helper()
	regBuild.once.Do(func() {
		regBuild.path = filepath.Join(filepath.Dir(harness.Binary(t)), "registry")
		cmd := exec.Command("go", "build", "-o", regBuild.path, cmdPackage)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			regBuild.err = fmt.Errorf("go build %s: %w\n%s", cmdPackage, err, out.String())
		}
	})
	if regBuild.err != nil {
		t.Fatal(regBuild.err)
	}
	return regBuild.path
}
