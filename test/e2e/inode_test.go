package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInodesAndDots checks what ls -i and readdir(3) rely on: the mount
// root and every file have a non-zero inode number that stays the same
// across chmod, utimes and truncate, and readdir returns "." and "..".
func TestInodesAndDots(t *testing.T) {
	e := newEnv(t)
	ino := func(p string) uint64 {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	if got := ino(e.m.Dir); got == 0 {
		t.Errorf("the mount root has inode 0")
	}
	f := e.m.Path("f")
	if err := os.WriteFile(f, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	first := ino(f)
	if first == 0 || first >= 1<<32 {
		t.Fatalf("a new file has inode %d: want non-zero, and small enough for 32-bit programs", first)
	}
	for _, change := range []struct {
		name string
		do   func() error
	}{
		{"chmod", func() error { return os.Chmod(f, 0o600) }},
		{"utimes", func() error { return syscall.Utimes(f, []syscall.Timeval{{Sec: 1}, {Sec: 2}}) }},
		{"truncate", func() error { return os.Truncate(f, 1) }},
	} {
		// The attributes setattr returns are what the next stat shows.
		if err := change.do(); err != nil {
			t.Fatalf("%s: %v", change.name, err)
		}
		if got := ino(f); got != first {
			t.Errorf("after %s the inode number is %d, was %d", change.name, got, first)
		}
	}

	if err := os.Mkdir(e.m.Path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{e.m.Dir, e.m.Path("d")} {
		names := rawNames(t, dir)
		if names["."] == 0 || names[".."] == 0 {
			t.Errorf("readdir of %s: . and .. missing or with inode 0: %v", dir, names)
		}
		if names["."] != ino(dir) {
			t.Errorf("readdir of %s: . has inode %d, stat says %d", dir, names["."], ino(dir))
		}
	}
}

// rawNames lists dir with getdents64 (Go's own readers drop . and ..),
// mapping each name to its inode number.
func rawNames(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	names := map[string]uint64{}
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Getdents(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return names
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino, off, reclen, type, name.
			ino := binary.NativeEndian.Uint64(b[0:8])
			reclen := binary.NativeEndian.Uint16(b[16:18])
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			names[string(name)] = ino
			b = b[reclen:]
		}
	}
}

// TestModesAsAsked checks that a mode of 0000 given to open(O_CREAT) or
// chmod is kept as 0000, not taken for "unknown" and shown as the default.
func TestModesAsAsked(t *testing.T) {
	e := newEnv(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	mode := func(p string) uint32 {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Mode & 0o7777
	}
	fd, err := syscall.Open(e.m.Path("zero"), syscall.O_CREAT|syscall.O_WRONLY|syscall.O_EXCL, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	if got := mode(e.m.Path("zero")); got != 0 {
		t.Errorf("open(O_CREAT, 0) made mode %#o, want 0", got)
	}
	if err := os.WriteFile(e.m.Path("f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.m.Path("f"), 0); err != nil {
		t.Fatal(err)
	}
	if got := mode(e.m.Path("f")); got != 0 {
		t.Errorf("chmod 0 left mode %#o", got)
	}
	if err := os.Mkdir(e.m.Path("d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got := mode(e.m.Path("d")); got != 0o700 {
		t.Errorf("mkdir 0700 made mode %#o", got)
	}
}

// TestOtherUsersWithAllowOther runs commands as another user (nobody) on
// a mount with -o allow_other: what they make is theirs, and in a sticky
// directory they may rename and remove their own files but not root's.
func TestOtherUsersWithAllowOther(t *testing.T) {
	e := newEnv(t, "-o", "allow_other")
	// t.TempDir's directories are 0700: let nobody reach the mount.
	for d := filepath.Dir(e.m.Dir); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sticky := e.m.Path("t")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(sticky, 0o1777); err != nil { // os.Chmod takes os.ModeSticky, not 0o1000
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sticky, "roots"), []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	asNobody := func(script string) (string, error) {
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = sticky
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := asNobody("echo x > mine && mkdir mydir && mv mine mine2"); err != nil {
		t.Fatalf("nobody making and renaming its own files in a sticky directory: %v\n%s", err, out)
	}
	for _, name := range []string{"mine2", "mydir"} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(sticky, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != nobody || st.Gid != nobody {
			t.Errorf("%s made by nobody is owned by %d:%d", name, st.Uid, st.Gid)
		}
	}
	if out, err := asNobody("rm mine2 && rmdir mydir"); err != nil {
		t.Fatalf("nobody removing its own files in a sticky directory: %v\n%s", err, out)
	}
	if out, err := asNobody("rm -f roots"); err == nil {
		t.Errorf("nobody removed root's file from a sticky directory\n%s", out)
	}
	if out, err := asNobody("mv roots stolen"); err == nil {
		t.Errorf("nobody renamed root's file in a sticky directory\n%s", out)
	}
	names, err := os.ReadDir(sticky)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != "roots" {
		t.Errorf("the sticky directory lists %v, want only roots", names)
	}
}

// TestKernelForgetsFilesPastTheBound looks up more files than
// --kernel-files allows: the oldest are invalidated, the kernel forgets
// them and the daemon frees their inodes (a walk of a million files kept
// ~770 MiB of them). A forgotten file is looked up again as a new inode,
// with a new number; one still held keeps its number.
func TestKernelForgetsFilesPastTheBound(t *testing.T) {
	e := newEnv(t, "--kernel-files=500")
	ino := func(p string) uint64 {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	const n = 2000
	var first uint64
	for i := 0; i < n; i++ {
		if err := os.WriteFile(e.m.Path(fmt.Sprintf("f%04d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = ino(e.m.Path("f0000"))
		}
	}
	last := ino(e.m.Path(fmt.Sprintf("f%04d", n-1)))
	// The invalidations run in the background: give them a moment.
	var again uint64
	for try := 0; try < 50; try++ {
		if again = ino(e.m.Path("f0000")); again != first {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if again == first {
		t.Errorf("f0000 kept inode %d after %d newer files were looked up with --kernel-files=500: the kernel was not told to forget it", first, n)
	}
	if got := ino(e.m.Path(fmt.Sprintf("f%04d", n-1))); got != last {
		t.Errorf("the newest file changed inode %d -> %d", last, got)
	}
	data, err := os.ReadFile(e.m.Path("f0000"))
	if err != nil || string(data) != "x" {
		t.Fatalf("a forgotten file reads %q, %v", data, err)
	}
}

// TestDirLinkCountAndFind: a directory's link count is 1 ("not counted"),
// never a guess that find(1) could take to mean "no subdirectories", and
// find sees every file of a nested tree.
func TestDirLinkCountAndFind(t *testing.T) {
	e := newEnv(t)
	var want []string
	for _, d := range []string{"a/b/c", "a/d", "e"} {
		if err := os.MkdirAll(e.m.Path(d), 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, "f")
		if err := os.WriteFile(e.m.Path(p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	for _, d := range []string{"", "a", "a/b", "a/b/c"} {
		var st syscall.Stat_t
		if err := syscall.Stat(e.m.Path(d), &st); err != nil {
			t.Fatal(err)
		}
		if st.Nlink != 1 {
			t.Errorf("directory %q has link count %d, want 1", d, st.Nlink)
		}
	}
	out, err := exec.Command("find", e.m.Dir, "-type", "f").Output()
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	var got []string
	for _, l := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(e.m.Dir, l)
		got = append(got, rel)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("find -type f found %v, want %v", got, want)
	}
}
