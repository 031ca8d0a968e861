package fs

import (
	"context"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/metacache"
)

// node is a file or directory of the mount. It keeps no state of its own:
// go-fuse's inode tree gives its path, and FS holds the rest, so a rename
// moves everything a node stands for.
type node struct {
	gofs.Inode
	fsys *FS
}

var (
	_ gofs.NodeLookuper  = (*node)(nil)
	_ gofs.NodeGetattrer = (*node)(nil)
	_ gofs.NodeSetattrer = (*node)(nil)
	_ gofs.NodeReaddirer = (*node)(nil)
	_ gofs.NodeOpener    = (*node)(nil)
	_ gofs.NodeCreater   = (*node)(nil)
	_ gofs.NodeMkdirer   = (*node)(nil)
	_ gofs.NodeUnlinker  = (*node)(nil)
	_ gofs.NodeRmdirer   = (*node)(nil)
	_ gofs.NodeRenamer   = (*node)(nil)
	_ gofs.NodeFsyncer   = (*node)(nil)
	_ gofs.NodeStatfser  = (*node)(nil)
	_ gofs.NodeAllocater = (*node)(nil)
)

// Root returns the root node to mount.
func (f *FS) Root() gofs.InodeEmbedder { return &node{fsys: f} }

func (n *node) path() string { return n.Path(nil) }

// entryTimeout bounds how long the kernel trusts a name or attributes
// without asking; our own cache answers the next ask.
const entryTimeout = time.Second

func (f *FS) fillAttr(e metacache.Entry, out *fuse.Attr) {
	// A mode set by create, mkdir or chmod carries its file type bits, so
	// that an explicit 0000 is not taken for "unknown".
	mode, explicit := e.Mode&0o7777, e.Mode != 0
	if e.IsDir {
		if !explicit {
			mode = 0o777 &^ f.opt.Umask
		}
		out.Mode = syscall.S_IFDIR | mode
		// 1 says "not counted" (as btrfs does): find and fts then never
		// skip a directory's entries on the guess that a link count of 2
		// means no subdirectories, which would be wrong here; counting
		// them would cost a listing per getattr.
		out.Nlink = 1
		out.Size = 4096
	} else {
		if !explicit {
			mode = 0o666 &^ f.opt.Umask
		}
		out.Mode = syscall.S_IFREG | mode
		out.Nlink = 1
		out.Size = uint64(e.Size)
	}
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 1 << 20
	out.Uid, out.Gid = f.opt.UID, f.opt.GID
	if e.HasOwner {
		out.Uid, out.Gid = e.UID, e.GID
	}
	mt := e.Mtime
	if mt.IsZero() {
		mt = f.started
	}
	out.SetTimes(&mt, &mt, &mt)
}

func (n *node) newChild(ctx context.Context, name string, e metacache.Entry, out *fuse.EntryOut) *gofs.Inode {
	n.fsys.fillAttr(e, &out.Attr)
	out.SetEntryTimeout(entryTimeout)
	out.SetAttrTimeout(entryTimeout)
	mode := uint32(syscall.S_IFREG)
	if e.IsDir {
		mode = syscall.S_IFDIR
	}
	if !e.IsDir {
		n.fsys.evict.note(n.EmbeddedInode(), name)
	}
	if ch := n.GetChild(name); ch != nil && ch.Mode() == mode {
		return ch
	}
	return n.NewInode(ctx, &node{fsys: n.fsys}, gofs.StableAttr{Mode: mode})
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if len(name) > 255 {
		return nil, syscall.ENAMETOOLONG
	}
	e, err := n.fsys.stat(ctx, joinPath(n.path(), name))
	if err != nil {
		return nil, n.fsys.errno("lookup", err)
	}
	return n.newChild(ctx, name, e, out), 0
}

func (n *node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h, ok := fh.(*handle); ok && h.fl != nil {
		n.fsys.mu.Lock()
		e, unlinked := h.fl.entryLocked(), h.fl.unlinked
		n.fsys.mu.Unlock()
		n.fsys.fillAttr(e, &out.Attr)
		if unlinked {
			out.Nlink = 0 // open, but no longer in the tree
		}
		out.SetTimeout(entryTimeout)
		return 0
	}
	e, err := n.fsys.stat(ctx, n.path())
	if err != nil {
		return n.fsys.errno("getattr", err)
	}
	n.fsys.fillAttr(e, &out.Attr)
	out.SetTimeout(entryTimeout)
	return 0
}

func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ctx = uninterrupted(ctx)
	entries, err := n.fsys.readdir(ctx, n.path())
	if err != nil {
		return nil, n.fsys.errno("readdir", err)
	}
	parent := n.EmbeddedInode()
	if _, p := parent.Parent(); p != nil {
		parent = p
	}
	list := make([]fuse.DirEntry, 2, len(entries)+2)
	list[0] = fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: n.StableAttr().Ino}
	list[1] = fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: parent.StableAttr().Ino}
	for _, e := range entries {
		d := fuse.DirEntry{Name: e.Name, Mode: syscall.S_IFREG}
		if e.IsDir {
			d.Mode = syscall.S_IFDIR
		}
		list = append(list, d)
	}
	return gofs.NewListDirStream(list), 0
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	h, keep, err := n.fsys.open(ctx, n.path(), int(flags))
	if err != nil {
		return nil, 0, n.fsys.errno("open", err)
	}
	var fuseFlags uint32
	if keep {
		fuseFlags = fuse.FOPEN_KEEP_CACHE
	}
	return h, fuseFlags, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	h, e, err := n.fsys.create(ctx, n.path(), name, int(flags), mode)
	if err != nil {
		return nil, nil, 0, n.fsys.errno("create", err)
	}
	return n.newChild(ctx, name, e, out), h, 0, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	e, err := n.fsys.mkdir(ctx, n.path(), name, mode)
	if err != nil {
		return nil, n.fsys.errno("mkdir", err)
	}
	return n.newChild(ctx, name, e, out), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	return n.fsys.errno("unlink", n.fsys.unlink(ctx, joinPath(n.path(), name)))
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	return n.fsys.errno("rmdir", n.fsys.rmdir(ctx, joinPath(n.path(), name)))
}

func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	np := newParent.EmbeddedInode().Path(nil)
	err := n.fsys.rename(ctx, joinPath(n.path(), name), np, newName, flags)
	return n.fsys.errno("rename", err)
}

func (n *node) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.IsDir() {
		return n.fsys.errno("fsync directory", n.fsys.fsyncDir(ctx, n.path()))
	}
	if h, ok := fh.(*handle); ok {
		return h.Fsync(ctx, flags)
	}
	return 0
}

func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	var fl *file
	if h, ok := fh.(*handle); ok {
		fl = h.fl
	}
	e, err := n.fsys.setattr(ctx, n.path(), fl, in)
	if err != nil {
		return n.fsys.errno("setattr", err)
	}
	n.fsys.fillAttr(e, &out.Attr)
	out.Ino = n.StableAttr().Ino // go-fuse fills it in for getattr, not for setattr
	out.SetTimeout(entryTimeout)
	return 0
}

func (n *node) Allocate(ctx context.Context, fh gofs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	h, ok := fh.(*handle)
	if !ok || !h.write {
		return syscall.EBADF
	}
	return n.fsys.errno("fallocate", n.fsys.allocate(h.fl, int64(off), int64(size), mode))
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	// OSS has no capacity limit: report a large, constant, sane filesystem.
	const blocks = 1 << 40 // 4 PiB of 4 KiB blocks
	out.Bsize = 4096
	out.Frsize = 4096
	out.Blocks = blocks
	out.Bfree = blocks
	out.Bavail = blocks
	out.Files = 1 << 40
	out.Ffree = 1 << 40
	out.NameLen = 255
	return 0
}

// uninterrupted keeps the caller's identity but drops the kernel's
// interrupt: Go programs signal their own threads all the time, and an
// operation that changes the tree (or looks a name up on the way) must
// finish rather than fail with EINTR, which callers do not retry (DESIGN.md).
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
