package fs

import (
	"context"
	"errors"
	"net"
	"net/url"
	"syscall"

	"github.com/ossmount/ossmount/ossio"
)

// errno is the one place where errors become FUSE status codes. Failures
// that are not the caller's doing are logged here, once.
func (f *FS) errno(op string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	e := toErrno(err)
	if e == syscall.EIO {
		f.log.Warn("operation failed", "op", op, "err", err)
	}
	return e
}

func toErrno(err error) syscall.Errno {
	var en syscall.Errno
	switch {
	case errors.Is(err, errNotExist), ossio.IsNotFound(err):
		return syscall.ENOENT
	case errors.Is(err, errExist):
		return syscall.EEXIST
	case errors.Is(err, errNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, errNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, errIsDir):
		return syscall.EISDIR
	case errors.Is(err, errNameTooLong):
		return syscall.ENAMETOOLONG
	case errors.Is(err, errInvalid):
		return syscall.EINVAL
	case errors.Is(err, errReadOnly):
		return syscall.EROFS
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case ossio.IsAuth(err):
		return syscall.EACCES
	case errors.As(err, new(*ossio.Error)), errors.As(err, new(*net.OpError)), errors.As(err, new(*url.Error)):
		return syscall.EIO // OSS or the network failed: not the caller's errno
	case errors.As(err, &en):
		return en // from the local disk: ENOSPC, EDQUOT, ...
	}
	return syscall.EIO
}
