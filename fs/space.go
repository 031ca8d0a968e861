package fs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// checkSpace refuses a write of n bytes with ENOSPC when it would eat into
// the reserve the metadata cache and journal need on the same filesystem:
// Badger maps its files into memory, and a full disk there is a crash, not
// an error. The reserve is 64 MiB, or a quarter of a small filesystem.
func (f *FS) checkSpace(n int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(f.stagingDir, &st); err != nil {
		return nil // cannot tell; let the write itself fail if it must
	}
	bsize := int64(st.Bsize)
	total := int64(st.Blocks) * bsize
	free := int64(st.Bavail) * bsize
	reserve := min(int64(64<<20), total/4)
	if free-n < reserve {
		return syscall.ENOSPC
	}
	return nil
}
