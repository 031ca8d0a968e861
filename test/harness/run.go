package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Result is how a finished ossmount command ended.
type Result struct {
	ExitCode       int
	Stdout, Stderr string
}

// Run runs the ossmount binary with args and extra environment, waiting at
// most two minutes.
func Run(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		t.Fatalf("run ossmount %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ossmount %v did not finish within two minutes", args)
	}
	return res
}
