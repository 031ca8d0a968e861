package fs

import (
	"strings"

	"github.com/ossmount/ossmount/fs/writeback"
)

// presence is what the pending ops say about one key.
type presence int

const (
	undecided presence = iota // as OSS has it (at the translated key)
	noFile                    // as OSS has it, but a file there is being deleted: only a directory counts
	absent
	isFile
	isDir
)

// overlay tells what the pending ops (oldest first) make of key, a file or
// directory key without trailing slash. When they leave it undecided, the
// returned key is where OSS holds it until those ops have run: a directory
// move not yet carried out still has its objects under the old name, and a
// pending copy's target still reads from its source.
func overlay(ops []*writeback.Op, key string) (presence, string) {
	fileGone := false        // a newer op deletes the file key; a directory of that name may still be
	var gone map[string]bool // keys newer ops delete: creating them does not make a directory
	for i := len(ops) - 1; i >= 0; i-- {
		op := ops[i]
		dirKey := key + "/"
		switch op.Kind {
		case writeback.Put:
			if op.Key == key && !fileGone {
				return isFile, key
			}
		case writeback.Copy:
			if op.Key == key && !fileGone {
				// The target will hold what the source holds at that point.
				if p, k := overlay(ops[:i], op.Src); p == absent || p == noFile {
					return absent, k
				} else {
					return isFile, k
				}
			}
		case writeback.Delete:
			if op.Key == dirKey {
				return absent, key // rmdir; the file of that name cannot have existed alongside
			}
			if op.Key == key {
				fileGone = true
			}
			if gone == nil {
				gone = map[string]bool{}
			}
			gone[op.Key] = true
		case writeback.Marker:
			if op.Key == dirKey {
				return isDir, key
			}
		case writeback.MoveDir:
			switch {
			case op.Key == dirKey:
				return isDir, key
			case strings.HasPrefix(dirKey, op.Src):
				return absent, key
			case strings.HasPrefix(dirKey, op.Key):
				key = op.Src + strings.TrimPrefix(key, op.Key)
				continue
			}
		}
		if op.Kind != writeback.Delete && op.Kind != writeback.SetMeta && strings.HasPrefix(op.Key, dirKey) && !gone[op.Key] {
			return isDir, key // something is being created inside it
		}
	}
	if fileGone {
		return noFile, key
	}
	return undecided, key
}

// translateDir is where OSS holds the entries of directory key prefix dir
// ("a/b/") until the pending ops have run, and the earlier names the
// directory had on the way, newest first. ok is false when the entries OSS
// holds there are being moved away: the directory was renamed and made
// anew, so only newer ops give it entries.
func translateDir(ops []*writeback.Op, dir string) (remote string, names []string, ok bool) {
	names = []string{dir}
	for i := len(ops) - 1; i >= 0; i-- {
		op := ops[i]
		if op.Kind != writeback.MoveDir {
			continue
		}
		if strings.HasPrefix(dir, op.Key) {
			dir = op.Src + strings.TrimPrefix(dir, op.Key)
			names = append(names, dir)
		} else if strings.HasPrefix(dir, op.Src) {
			return dir, names, false
		}
	}
	return dir, names, true
}

// opNames lists the names in directory dir (under any of the names it had)
// that the pending ops touch.
func opNames(ops []*writeback.Op, dirs []string) map[string]bool {
	names := map[string]bool{}
	add := func(k string) {
		for _, d := range dirs {
			if rest, ok := strings.CutPrefix(k, d); ok && rest != "" {
				name, _, _ := strings.Cut(rest, "/")
				if name != "" {
					names[name] = true
				}
			}
		}
	}
	for _, op := range ops {
		add(op.Key)
		if op.Src != "" {
			add(op.Src)
		}
	}
	return names
}
