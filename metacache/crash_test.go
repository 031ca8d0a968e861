package metacache

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestJournalSurvivesKill9 writes journal records in a child process, kills
// it with SIGKILL (no Close) once the writes have returned, and checks that a
// new Open finds every record and can still read the metadata cache.
func TestJournalSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	cmd.Env = append(os.Environ(), "METACACHE_CRASH_HELPER_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "WRITTEN") {
			ready = true
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !ready {
		t.Fatal("helper never reported its writes")
	}

	c := openAt(t, dir, nil)
	defer c.Close()
	keys := journalKeys(t, c)
	if len(keys) != 200 {
		t.Fatalf("journal after kill -9: %d records, want 200", len(keys))
	}
	for i, k := range keys {
		if want := fmt.Sprintf("rec-%04d", i); k != want {
			t.Fatalf("record %d = %q, want %q", i, k, want)
		}
	}
	// The metadata cache makes no durability promise, but it must open and
	// answer; after a kill (not a power loss) its writes are in the page cache.
	if _, st := c.Lookup("f"); st != Fresh {
		t.Errorf("cache entry after kill -9: %v", st)
	}
}

// TestCrashHelperProcess is the child of TestJournalSurvivesKill9.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv("METACACHE_CRASH_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestJournalSurvivesKill9")
	}
	c, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	must(t, c.Put("f", Entry{}))
	for i := 199; i >= 0; i-- {
		must(t, c.JournalPut(fmt.Sprintf("rec-%04d", i), []byte("x")))
	}
	must(t, c.JournalPut("doomed", nil))
	must(t, c.JournalDelete("doomed"))
	fmt.Println("WRITTEN")
	time.Sleep(time.Minute) // killed long before this
}
