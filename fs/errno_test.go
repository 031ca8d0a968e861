package fs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/ossmount/ossmount/ossio"
)

func TestToErrno(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err  error
		want syscall.Errno
	}{
		{errNotExist, syscall.ENOENT},
		{fmt.Errorf("look up: %w", errNotEmpty), syscall.ENOTEMPTY},
		{errNameTooLong, syscall.ENAMETOOLONG},
		{&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, syscall.ENOSPC},
		{syscall.ENOSPC, syscall.ENOSPC},
		{&ossio.Error{Op: "GetObject", Code: "NoSuchKey", Status: 404}, syscall.ENOENT},
		{&ossio.Error{Op: "GetObject", Status: 503, Err: errors.New("busy")}, syscall.EIO},
		{&ossio.Error{Op: "GetObject", Err: refused}, syscall.EIO},
		{refused, syscall.EIO},
		{errors.New("anything else"), syscall.EIO},
	}
	for _, tc := range tests {
		if got := toErrno(tc.err); got != tc.want {
			t.Errorf("toErrno(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
