// Package writeback carries local changes out to OSS in the background.
//
// Every change the mount makes to the bucket (upload a staged file, copy,
// delete, write a directory marker, move a directory) is an Op. Ops are
// journaled durably before the FUSE call that made them returns, then run by
// a pool of workers. Two ops that touch the same key (or a key under a
// directory being moved) run in the order they were queued; unrelated ops run
// in parallel. Uploads wait a short delay first, so a file that is reopened
// and appended to, or renamed, is uploaded once, under its final key.
//
// A directory fsync is a barrier (see DESIGN.md): it makes urgent, and waits
// for, every op created by a rename and every op on the directory's own
// entries, together with every earlier op those depend on.
package writeback

import (
	"container/list"
	"strings"
	"time"
)

// Kind names what an op does in OSS.
type Kind string

const (
	Put     Kind = "put"     // upload Staging to Key
	Copy    Kind = "copy"    // server-side copy Src to Key
	Delete  Kind = "delete"  // delete Key
	Marker  Kind = "marker"  // write the empty directory marker Key (ends in "/")
	MoveDir Kind = "movedir" // copy every object under Src to the same name under Key, then delete the originals (both end in "/")
	SetMeta Kind = "meta"    // replace Key's user metadata with Meta
)

// Op is one change to carry out in OSS. The exported fields are its journal
// record; the rest is run-time state guarded by Queue.mu.
type Op struct {
	Seq      uint64            `json:"seq"`
	Kind     Kind              `json:"kind"`
	Key      string            `json:"key"`
	Src      string            `json:"src,omitempty"`
	Staging  string            `json:"staging,omitempty"` // Put: absolute path of the staging file
	Meta     map[string]string `json:"meta,omitempty"`
	Rename   bool              `json:"rename,omitempty"`   // made by a rename: every directory fsync waits for it
	Replaces uint64            `json:"replaces,omitempty"` // this record supersedes op Replaces (a Put moved by a rename)
	UploadID string            `json:"upload_id,omitempty"`

	// ETag of the object a Put or Copy left, once it ran.
	ETag string `json:"-"`

	replayed  bool      // left by an earlier run, which may have started uploads it never recorded
	notBefore time.Time // not run before this, unless urgent
	held      bool      // the file is open for writing: wait for its close, unless urgent
	urgent    bool
	running   bool
	finished  bool
	cancelled bool
	attempts  int
	lastErr   error
	done      chan struct{} // closed when the op has finished or was cancelled
	waiters   int

	// The queue's indexes (index.go).
	orderElem *list.Element // in Queue.order; nil when not in the queue
	links     []chainLink   // in the chain of each exact key it touches
	pblockers int           // earlier unfinished ops it overlaps through a prefix
	pdeps     []*Op         // those ops, to pass urgency on
	pwaiters  []*Op         // later ops counting this one in their pblockers
	readyIdx  int           // 1 + index in Queue.ready; 0 when not in it
	timerIdx  int           // 1 + index in Queue.timers; 0 when not in it
	timerAt   time.Time     // its notBefore when it entered Queue.timers
}

// Done is closed once the op has been carried out or cancelled.
func (o *Op) Done() <-chan struct{} { return o.done }

// touch is one key an op reads or writes; prefix touches cover every key
// that starts with key.
type touch struct {
	key    string
	prefix bool
}

func (o *Op) touches() []touch {
	switch o.Kind {
	case Copy:
		return []touch{{key: o.Key}, {key: o.Src}}
	case MoveDir:
		return []touch{{key: o.Key, prefix: true}, {key: o.Src, prefix: true}}
	default:
		return []touch{{key: o.Key}}
	}
}

func (t touch) overlaps(u touch) bool {
	switch {
	case t.prefix && u.prefix:
		return strings.HasPrefix(t.key, u.key) || strings.HasPrefix(u.key, t.key)
	case t.prefix:
		return strings.HasPrefix(u.key, t.key)
	case u.prefix:
		return strings.HasPrefix(t.key, u.key)
	default:
		return t.key == u.key
	}
}

// conflicts reports whether a and b must run in queue order.
func conflicts(a, b *Op) bool {
	for _, t := range a.touches() {
		for _, u := range b.touches() {
			if t.overlaps(u) {
				return true
			}
		}
	}
	return false
}

// parentDir is the directory prefix ("a/b/", or "" at the bucket root)
// holding key, which may itself end in "/".
func parentDir(key string) string {
	k := strings.TrimSuffix(key, "/")
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i+1]
	}
	return ""
}

// inDir reports whether the op creates, changes or removes an entry of the
// directory whose key prefix is dir.
func (o *Op) inDir(dir string) bool {
	if parentDir(o.Key) == dir {
		return true
	}
	return (o.Kind == Copy || o.Kind == MoveDir) && parentDir(o.Src) == dir
}
