package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/test/harness"
)

// differentialSteps is how many random operations TestDifferential runs in
// CI; OSSMOUNT_DIFF_STEPS and OSSMOUNT_DIFF_SEED run a longer soak by hand.
const differentialSteps = 3000

// TestDifferential runs one random sequence of operations through the
// kernel on the mount and on a local directory, with the default upload
// delay and TTLs (uploads, markers and cache updates happen in the middle
// of the sequence), and compares after every step: the error number of
// the operation, then the type, size, mode and bytes of what it touched;
// every 25 steps the whole tree; at the end the whole tree again through a
// fresh mount with an empty cache, from OSS alone.
func TestDifferential(t *testing.T) {
	steps, seed := differentialSteps, uint64(time.Now().UnixNano())
	if v, err := strconv.Atoi(os.Getenv("OSSMOUNT_DIFF_STEPS")); err == nil {
		steps = v
	}
	if v, err := strconv.ParseUint(os.Getenv("OSSMOUNT_DIFF_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (OSSMOUNT_DIFF_SEED=%d reruns it), %d steps", seed, seed, steps)
	e := newEnv(t, strings.Fields(os.Getenv("OSSMOUNT_DIFF_ARGS"))...) // by hand: e.g. "--stat-ttl=5s"
	d := &differ{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), mnt: e.m.Dir, ref: t.TempDir()}
	for i := 0; i < steps; i++ {
		d.step(i)
		if i%25 == 24 {
			d.compareTree(d.mnt, fmt.Sprintf("after step %d", i), true)
		}
	}
	d.compareTree(d.mnt, "at the end", true)
	e.m.Unmount(t)
	fresh := harness.MountBucket(t, e.srv, harness.MountOptions{Prefix: e.m.Prefix})
	// Modes, owners and utimes mtimes come back with the listings (the
	// directories' attribute tables).
	d.compareTree(fresh.Dir, "through a fresh mount with an empty cache", true)
}

type differ struct {
	t        *testing.T
	rng      *rand.Rand
	mnt, ref string
	hist     []string
}

var diffNames = []string{"a", "b", "c", "d"}

// pick returns a random path of depth 1 to 4 over a few names, so that
// operations often meet each other.
func (d *differ) pick() string {
	n := 1 + d.rng.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = diffNames[d.rng.IntN(len(diffNames))]
	}
	return filepath.Join(parts...)
}

// both runs op on the mount and on the reference and fails when their
// error numbers differ.
func (d *differ) both(what string, op func(root string) error) {
	errM, errR := op(d.mnt), op(d.ref)
	if errR != nil {
		what += " (" + errnoOf(errR).Error() + ")"
	}
	if os.Getenv("OSSMOUNT_DIFF_HIST") != "" {
		what = time.Now().Format("15:04:05.000000 ") + what // to match the daemon's log
	}
	d.hist = append(d.hist, what)
	if errnoOf(errM) != errnoOf(errR) {
		d.fail("%s: mount says %v, local directory %v", what, errM, errR)
	}
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	for e := err; e != nil; {
		if x, ok := e.(syscall.Errno); ok {
			en = x
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return syscall.EIO
		}
		e = u.Unwrap()
	}
	return en
}

func (d *differ) fail(format string, args ...any) {
	d.t.Helper()
	h := d.hist
	if len(h) > 60 && os.Getenv("OSSMOUNT_DIFF_HIST") == "" { // set: all of them, timed
		h = h[len(h)-60:]
	}
	d.t.Fatalf("%s\nlast operations:\n  %s", fmt.Sprintf(format, args...), strings.Join(h, "\n  "))
}

func (d *differ) step(i int) {
	p, q := d.pick(), d.pick()
	data := []byte(fmt.Sprintf("%d:%s;", i, strings.Repeat("x", d.rng.IntN(40))))
	switch k := d.rng.IntN(14); k {
	case 0, 1: // create or overwrite
		d.both("write "+p, func(r string) error { return rawWrite(filepath.Join(r, p), data, syscall.O_TRUNC, 0) })
	case 2: // append
		d.both("append "+p, func(r string) error { return rawWrite(filepath.Join(r, p), data, syscall.O_APPEND, 0) })
	case 3: // write at an offset, then fsync
		off := int64(d.rng.IntN(30))
		d.both(fmt.Sprintf("pwrite %s at %d", p, off), func(r string) error {
			return rawWrite(filepath.Join(r, p), data, 0, off)
		})
	case 4:
		size := int64(d.rng.IntN(50))
		d.both(fmt.Sprintf("truncate %s %d", p, size), func(r string) error { return syscall.Truncate(filepath.Join(r, p), size) })
	case 5, 6:
		d.both("mkdir "+p, func(r string) error { return syscall.Mkdir(filepath.Join(r, p), 0o755) })
	case 7:
		d.both("rmdir "+p, func(r string) error { return syscall.Rmdir(filepath.Join(r, p)) })
	case 8:
		d.both("unlink "+p, func(r string) error { return syscall.Unlink(filepath.Join(r, p)) })
	case 9, 10:
		d.both("rename "+p+" "+q, func(r string) error { return syscall.Rename(filepath.Join(r, p), filepath.Join(r, q)) })
	case 11:
		mode := uint32(0o600 + d.rng.IntN(0o100))
		d.both(fmt.Sprintf("chmod %s %o", p, mode), func(r string) error { return syscall.Chmod(filepath.Join(r, p), mode) })
	case 12:
		sec := int64(1_600_000_000 + d.rng.IntN(1000))
		d.both(fmt.Sprintf("utimes %s %d", p, sec), func(r string) error {
			return syscall.Utimes(filepath.Join(r, p), []syscall.Timeval{{Sec: sec}, {Sec: sec}})
		})
	case 13:
		d.both("fsync dir "+filepath.Dir(p), func(r string) error {
			fd, err := syscall.Open(filepath.Join(r, filepath.Dir(p)), syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
			if err != nil {
				return err
			}
			defer syscall.Close(fd)
			return syscall.Fsync(fd)
		})
	}
	d.comparePath(d.mnt, p, "after "+d.hist[len(d.hist)-1])
	d.comparePath(d.mnt, q, "after "+d.hist[len(d.hist)-1])
}

// rawWrite opens p for writing (creating it 0644) with extra flags, writes
// data at off (or at the end with O_APPEND), fsyncs and closes it.
func rawWrite(p string, data []byte, flags int, off int64) error {
	fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CREAT|flags, 0o644)
	if err != nil {
		return err
	}
	if flags&syscall.O_APPEND != 0 {
		_, err = syscall.Write(fd, data)
	} else {
		_, err = syscall.Pwrite(fd, data, off)
	}
	if err == nil {
		err = syscall.Fsync(fd)
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	return err
}

// describe is what is compared of one path.
func describe(root, p string, withMtime bool) string {
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(root, p), &st); err != nil {
		return "error " + errnoOf(err).Error()
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return fmt.Sprintf("dir %o", st.Mode&0o7777)
	}
	data, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		return "unreadable " + errnoOf(err).Error()
	}
	s := fmt.Sprintf("file %o size %d %q", st.Mode&0o7777, st.Size, data)
	if withMtime && st.Mtim.Sec < 1_700_000_000 {
		// Set by utimes (the sequence's times are older than any write):
		// the mount must keep it exactly.
		s += fmt.Sprintf(" mtime %d", st.Mtim.Sec)
	}
	return s
}

func (d *differ) comparePath(root, p, when string) {
	d.t.Helper()
	got, want := describe(root, p, false), describe(d.ref, p, false)
	if got != want {
		d.fail("%s: %s is %s on the mount, %s in the local directory", when, p, got, want)
	}
}

// compareTree compares every directory listing and every entry under root
// with the reference.
func (d *differ) compareTree(root, when string, meta bool) {
	d.t.Helper()
	var walk func(rel string)
	walk = func(rel string) {
		got, want := names(d.t, filepath.Join(root, rel)), names(d.t, filepath.Join(d.ref, rel))
		if strings.Join(got, ",") != strings.Join(want, ",") {
			d.fail("%s: directory %q lists %v on the mount, %v in the local directory", when, rel, got, want)
		}
		for _, n := range want {
			p := filepath.Join(rel, n)
			// A directory's mtime is not compared: it does not follow
			// its entries here (see the README).
			g, w := describe(root, p, meta), describe(d.ref, p, meta)
			if !meta {
				g, w = withoutMode(g), withoutMode(w)
			}
			if g != w {
				d.fail("%s: %s is %s on the mount, %s in the local directory", when, p, g, w)
			}
			if fi, err := os.Lstat(filepath.Join(d.ref, p)); err == nil && fi.IsDir() {
				walk(p)
			}
		}
	}
	walk("")
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// withoutMode drops the mode from a description.
func withoutMode(s string) string {
	f := strings.SplitN(s, " ", 3)
	switch {
	case len(f) >= 2 && f[0] == "dir":
		return "dir"
	case len(f) == 3 && f[0] == "file":
		return f[0] + " " + f[2]
	}
	return s
}
