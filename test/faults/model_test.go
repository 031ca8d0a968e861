package faults

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// model is what the tree must hold: file path (relative to the mount) to
// its bytes, after every op that returned.
type model map[string][]byte

func (m model) clone() model {
	c := make(model, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m model) paths() []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// apply changes m by one op that returned.
func (m model) apply(r opRec) error {
	switch r.Kind {
	case "create":
		m[r.Path] = r.data()
	case "append":
		old, ok := m[r.Path]
		if !ok {
			return fmt.Errorf("op %d: append to %s, which the model does not have", r.I, r.Path)
		}
		m[r.Path] = append(append([]byte(nil), old...), r.data()...)
	case "rename":
		data, ok := m[r.Path]
		if !ok {
			return fmt.Errorf("op %d: rename of %s, which the model does not have", r.I, r.Path)
		}
		delete(m, r.Path)
		m[r.To] = data
	case "delete":
		delete(m, r.Path)
	default:
		return fmt.Errorf("op %d: unknown kind %q", r.I, r.Kind)
	}
	return nil
}

// resolve compares a tree read back after a crash with m, where op (when
// not nil) began but may or may not have taken effect. It returns the
// model the tree shows and the paths of debris the cut-short op may leave
// (a temporary file whose close never returned), or a list of problems.
func (m model) resolve(got model, op *opRec) (model, []string, []string) {
	if op == nil {
		return m, nil, m.diff(got, nil)
	}
	switch op.Kind {
	case "create":
		// The temporary file may be missing, empty, or partly written.
		return m, []string{op.Path}, m.diff(got, map[string]bool{op.Path: true})
	case "append":
		old, ok := m[op.Path]
		cur, present := got[op.Path]
		after := m.clone()
		if ok && present && appendPrefix(old, op.data(), cur) {
			after[op.Path] = cur
			return after, nil, after.diff(got, nil)
		}
		return m, nil, m.diff(got, nil)
	default: // rename, delete: all or nothing
		before := m.diff(got, nil)
		if len(before) == 0 {
			return m, nil, nil
		}
		after := m.clone()
		if err := after.apply(*op); err != nil {
			return m, nil, append(before, err.Error())
		}
		if len(after.diff(got, nil)) == 0 {
			return after, nil, nil
		}
		return m, nil, append([]string{fmt.Sprintf("the tree matches neither the state before nor after the cut-short op %d (%s %s %s); against the state before:", op.I, op.Kind, op.Path, op.To)}, before...)
	}
}

// appendPrefix reports whether cur is old followed by a part of add that
// the crash may have left: add's first bytes, where bytes the kernel had
// not yet written may read as zeros.
func appendPrefix(old, add, cur []byte) bool {
	if len(cur) < len(old) || len(cur) > len(old)+len(add) || !bytes.Equal(cur[:len(old)], old) {
		return false
	}
	for i, c := range cur[len(old):] {
		if c != add[i] && c != 0 {
			return false
		}
	}
	return true
}

// diff lists how got differs from m, ignoring the paths in skip.
func (m model) diff(got model, skip map[string]bool) []string {
	var out []string
	for _, p := range m.paths() {
		if skip[p] {
			continue
		}
		g, ok := got[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: missing (want %d bytes)", p, len(m[p])))
		case !bytes.Equal(g, m[p]):
			out = append(out, fmt.Sprintf("%s: %s", p, describeDiff(g, m[p])))
		}
	}
	for _, p := range got.paths() {
		if _, ok := m[p]; !ok && !skip[p] {
			out = append(out, fmt.Sprintf("%s: present (%d bytes), want no such file", p, len(got[p])))
		}
	}
	return out
}

// describeDiff says how got differs from want without dumping megabytes.
func describeDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d of %d", i, len(got))
		}
	}
	return "equal"
}

// readTree reads every regular file under root into a model and lists the
// directories (relative paths).
func readTree(root string) (model, []string, error) {
	got := model{}
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == ".":
		case d.IsDir():
			dirs = append(dirs, rel)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = data
		default:
			return fmt.Errorf("%s: unexpected file type %v", rel, d.Type())
		}
		return nil
	})
	return got, dirs, err
}

// bucketTree reads every object under prefix into a model keyed by the path
// under the prefix; directory markers ("dir/") are returned apart.
func bucketTree(get func(key string) ([]byte, bool), keys []string, prefix string) (model, []string) {
	got := model{}
	var markers []string
	for _, k := range keys {
		rel := strings.TrimPrefix(k, prefix)
		if strings.HasSuffix(rel, "/") {
			markers = append(markers, rel)
			continue
		}
		if data, ok := get(k); ok {
			got[rel] = data
		}
	}
	return got, markers
}

// versionIndex remembers every version of every file the ops made, so that
// a failure can say which old version a wrong file shows.
type versionIndex map[[32]byte]string

func (v versionIndex) note(m model, r opRec, round int) {
	p := r.Path
	if r.Kind == "rename" {
		p = r.To
	}
	if data, ok := m[p]; ok {
		if _, seen := v[sha256.Sum256(data)]; !seen {
			v[sha256.Sum256(data)] = fmt.Sprintf("%s after round %d op %d", p, round, r.I)
		}
	}
}

// explain names the version each wrong file in got shows, when known.
func (v versionIndex) explain(got, want model) string {
	var out []string
	for _, p := range got.paths() {
		if w, ok := want[p]; ok && bytes.Equal(w, got[p]) {
			continue
		}
		what := "a version no op made"
		if d, ok := v[sha256.Sum256(got[p])]; ok {
			what = "the version of " + d
		}
		out = append(out, fmt.Sprintf("  %s shows %s", p, what))
	}
	if len(out) == 0 {
		return ""
	}
	return "\nwrong files:\n" + strings.Join(out, "\n")
}
