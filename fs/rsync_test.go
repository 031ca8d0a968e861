package fs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestAttrsBeforeRenameCore(t *testing.T) {
	env := newTestEnv(t)
	f, closeFS := env.newFS(t, "rs/", t.TempDir(), 20*time.Millisecond, 1<<20)
	ctx := context.Background()
	const n = 100
	for i := 0; i < n; i++ {
		tmp := fmt.Sprintf("t%d", i)
		h, _, err := f.create(ctx, "", tmp, os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(ctx, []byte("x"), 0)
		h.Flush(ctx)
		h.Release(ctx)
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		in := &fuse.SetAttrIn{}
		in.Valid = fuse.FATTR_MODE
		in.Mode = 0o640
		if _, err := f.setattr(ctx, tmp, nil, in); err != nil {
			t.Fatal(err)
		}
		in = &fuse.SetAttrIn{}
		in.Valid = fuse.FATTR_MTIME
		in.Mtime = uint64(1000 + i)
		if _, err := f.setattr(ctx, tmp, nil, in); err != nil {
			t.Fatal(err)
		}
		if err := f.rename(ctx, tmp, "", fmt.Sprintf("f%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	closeFS()
	for i := 0; i < n; i++ {
		o, err := env.client.Head(ctx, fmt.Sprintf("rs/f%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if o.Meta["mode"] != "100640" || o.Meta["mtime"] != fmt.Sprint(int64(1000+i)*1e9) {
			t.Errorf("f%d: %v", i, o.Meta)
		}
	}
}
