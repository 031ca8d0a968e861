package fs

import (
	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// Bounding the kernel's file inodes. Every name the kernel looks up costs
// an inode in go-fuse's tree in this process (about 700 bytes with its
// map entries), and the kernel forgets one only under memory pressure: a
// walk of a million files kept ~770 MiB here. Past maxKernelFiles file
// names, the oldest ones looked up are invalidated (FUSE_NOTIFY_INVAL_ENTRY):
// the kernel drops the dentry and, unless the file is open, forgets the
// inode, and go-fuse frees it. A later access looks the name up again,
// from the metadata cache, with no request to OSS. Directories are left
// alone: the kernel cannot drop one that still has entries cached.
const maxKernelFiles = 20_000

type childRef struct {
	parent *gofs.Inode
	name   string
}

// evictor keeps the file names given to the kernel, oldest first, and
// invalidates the oldest past maxKernelFiles in the background (a notify
// must not be sent from the FUSE request that caused it).
type evictor struct {
	fifo chan childRef
	out  chan childRef
}

func newEvictor(max int) *evictor {
	ev := &evictor{fifo: make(chan childRef, max), out: make(chan childRef, 1024)}
	go func() {
		for r := range ev.out {
			r.parent.NotifyEntry(r.name) // ENOENT or ENOTCONN: nothing to forget
		}
	}()
	return ev
}

// note records that the kernel was given file name in parent. A name
// looked up again is recorded again: its invalidation then costs one
// lookup from the cache, which is cheaper than tracking recency.
func (ev *evictor) note(parent *gofs.Inode, name string) {
	for {
		select {
		case ev.fifo <- childRef{parent, name}:
			return
		default:
		}
		select {
		case old := <-ev.fifo:
			select {
			case ev.out <- old:
			default: // the invalidations lag: let this one stay
			}
		default:
		}
	}
}
