package writeback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/ossmount/ossmount/ossio"
)

// errChanged means a Put's staging file changed while it was uploading:
// the queue runs it again at once, and waiters do not see it as a failure.
var errChanged = errors.New("staging file changed during the upload")

// Executor carries ops out through an ossio client.
type Executor struct {
	Client *ossio.Client
	Queue  *Queue
	Logger *slog.Logger
}

// Run is a Runner.
func (e *Executor) Run(ctx context.Context, op *Op) error {
	c := e.Client
	switch op.Kind {
	case Put:
		if err := e.abortStale(ctx, op); err != nil {
			return err
		}
		before, _ := os.Stat(op.Staging)
		obj, err := c.UploadFile(ctx, op.Key, op.Staging, ossio.UploadOptions{
			Meta: op.Meta,
			OnStart: func(id string) {
				if err := e.Queue.RecordUploadID(op, id); err != nil {
					e.Logger.Warn("journal upload id", "key", op.Key, "err", err)
				}
			},
		})
		if err != nil && before != nil {
			if after, serr := os.Stat(op.Staging); serr == nil && (after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime())) {
				// The file was written (truncated, say) while it went up:
				// not a failure, just a reason to send it again.
				return fmt.Errorf("%w: %v", errChanged, err)
			}
		}
		op.ETag = obj.ETag
		if errors.Is(err, iofs.ErrNotExist) {
			// The file was removed locally after this upload was queued; a
			// later op deletes or replaces the key.
			e.Logger.Debug("staging file gone; upload dropped", "key", op.Key)
			return nil
		}
		return err
	case Copy:
		obj, err := c.Copy(ctx, op.Src, op.Key, nil)
		op.ETag = obj.ETag
		if ossio.IsNotFound(err) {
			e.Logger.Error("copy source missing from the bucket; changed by another client?", "src", op.Src, "dst", op.Key)
			return nil
		}
		return err
	case Delete:
		return c.Delete(ctx, op.Key)
	case Marker:
		_, err := c.Put(ctx, op.Key, bytes.NewReader(nil), 0, op.Meta)
		return err
	case SetMeta:
		err := c.SetMeta(ctx, op.Key, op.Meta)
		if ossio.IsNotFound(err) {
			return nil
		}
		return err
	case MoveDir:
		return e.moveDir(ctx, op.Src, op.Key)
	}
	return fmt.Errorf("unknown op kind %q", op.Kind)
}

// moveDir copies every object under src to dst, then deletes the originals.
// Run again after a crash, it finds what is left under src and finishes.
func (e *Executor) moveDir(ctx context.Context, src, dst string) error {
	var moved []string
	err := e.Client.List(ctx, src, "", func(p ossio.Page) error {
		for _, o := range p.Objects {
			if _, err := e.Client.Copy(ctx, o.Key, dst+strings.TrimPrefix(o.Key, src), nil); err != nil {
				return err
			}
			moved = append(moved, o.Key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("move %q to %q: %w", src, dst, err)
	}
	return e.Client.DeleteMany(ctx, moved)
}

// abortStale aborts multipart uploads an earlier attempt at op left: the one
// it recorded, and, for an op a dead mount left in the journal, any upload
// of that key (the mount may have died between starting one and recording it).
func (e *Executor) abortStale(ctx context.Context, op *Op) error {
	ids := map[string]bool{}
	if op.UploadID != "" {
		ids[op.UploadID] = true
	}
	if op.replayed {
		ups, err := e.Client.ListUploads(ctx, op.Key)
		if err != nil {
			return fmt.Errorf("list unfinished uploads of %q: %w", op.Key, err)
		}
		for _, u := range ups {
			if u.Key == op.Key {
				ids[u.UploadID] = true
			}
		}
	}
	for id := range ids {
		if err := e.Client.AbortUpload(ctx, op.Key, id); err != nil && !ossio.IsNotFound(err) {
			return fmt.Errorf("abort unfinished upload of %q: %w", op.Key, err)
		}
	}
	return nil
}
