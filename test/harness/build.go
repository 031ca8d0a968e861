package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const productModule = "github.com/ossmount/ossmount"

var build struct {
	once sync.Once
	dir  string // temporary directory holding the binary
	path string
	err  error
}

// Binary returns the path of an ossmount binary built from the repository
// root; the first call builds it, later calls in the same test binary reuse it.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			build.err = err
			return
		}
		build.dir, err = os.MkdirTemp("", "ossmount-e2e-bin-")
		if err != nil {
			build.err = fmt.Errorf("temp dir for the binary: %w", err)
			return
		}
		build.path = filepath.Join(build.dir, "ossmount")
		cmd := exec.Command("go", "build", "-o", build.path, ".")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = fmt.Errorf("go build ossmount in %s: %w\n%s", root, err, out.String())
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Main runs the tests of a package and removes the built binary afterwards.
// Use it from TestMain: func TestMain(m *testing.M) { harness.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// RepoRoot finds the product's repository root: the nearest directory above
// the working directory whose go.mod declares the product module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isProductModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", productModule)
		}
		dir = parent
	}
}

func isProductModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return f[1] == productModule
		}
	}
	return false
}
