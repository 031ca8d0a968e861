package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ossmount/ossmount/test/harness"
)

// workloadEnv names the variable that turns the test binary into the
// crash-loop workload; its value is the path of a workloadConfig file.
const workloadEnv = "OSSMOUNT_FAULTS_WORKLOAD"

// workloadConfig tells the workload process what to do.
type workloadConfig struct {
	Mount  string   // the mountpoint
	Log    string   // the op log, outside the mount
	Files  []string // final files that exist when the workload starts
	Dirs   []string // directories to spread files over
	Round  int      // makes names and seeds unique across rounds
	Seed   uint64
	MaxOps int
}

// opRec is one line of the op log. Every op is logged (and fsynced) as
// "begin" before its first system call and as "done" once its last one
// returned, so that after a crash the log tells which ops returned and
// which single op may have been cut short.
type opRec struct {
	I     int    `json:"i"`
	Phase string `json:"ph"` // "begin" or "done"
	Kind  string `json:"k"`  // create, rename, append, delete
	Path  string `json:"p"`
	To    string `json:"to,omitempty"`
	Seed  uint64 `json:"s,omitempty"`
	Size  int    `json:"n,omitempty"`
	Sync  bool   `json:"sync,omitempty"` // create: fsync before close
}

// data is the bytes a create or append op writes.
func (r opRec) data() []byte { return harness.RandomBytes(r.Seed, r.Size) }

const (
	bigFileSize = 8<<20 + 1<<20 // over the default 8 MiB part size: multipart
	maxFiles    = 30
	maxBigFiles = 4
)

// runWorkload is the workload process's main: writes new files as a
// temporary name then a rename (across directories half of the time),
// appends to files in place, moves and deletes them, until MaxOps or until
// the mount dies under it.
func runWorkload() int {
	cfgData, err := os.ReadFile(os.Getenv(workloadEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload config:", err)
		return 2
	}
	var cfg workloadConfig
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "workload config:", err)
		return 2
	}
	logf, err := os.OpenFile(cfg.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "op log:", err)
		return 2
	}
	defer logf.Close()
	w := &workload{cfg: cfg, log: logf, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Round))), files: map[string]int{}}
	for _, f := range cfg.Files {
		w.files[f] = 0
	}
	for w.n = 0; w.n < cfg.MaxOps; w.n++ {
		if err := w.step(); err != nil {
			fmt.Fprintf(os.Stderr, "workload op %d: %v\n", w.n, err)
			return 3
		}
	}
	return 0
}

type workload struct {
	cfg   workloadConfig
	log   *os.File
	rng   *rand.Rand
	files map[string]int // final files now; value: size when known to be big
	n     int
}

func (w *workload) record(r opRec) error {
	line, _ := json.Marshal(r)
	if _, err := w.log.Write(append(line, '\n')); err != nil {
		return err
	}
	return w.log.Sync()
}

// do logs r as begun, runs fn, and logs r as done.
func (w *workload) do(r opRec, fn func() error) error {
	r.I, r.Phase = w.n, "begin"
	if err := w.record(r); err != nil {
		return fmt.Errorf("op log: %w", err)
	}
	if err := fn(); err != nil {
		return fmt.Errorf("%s %s %s: %w", r.Kind, r.Path, r.To, err)
	}
	r.Phase = "done"
	if err := w.record(r); err != nil {
		return fmt.Errorf("op log: %w", err)
	}
	return nil
}

func (w *workload) abs(rel string) string { return filepath.Join(w.cfg.Mount, rel) }

func (w *workload) sortedFiles() []string {
	out := make([]string, 0, len(w.files))
	for f := range w.files {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func (w *workload) pick() string {
	fs := w.sortedFiles()
	return fs[w.rng.IntN(len(fs))]
}

func (w *workload) dir() string { return w.cfg.Dirs[w.rng.IntN(len(w.cfg.Dirs))] }

// target is a final name: a new one, or (one time in five) an existing
// file the rename replaces.
func (w *workload) target(kind string) string {
	if len(w.files) > 0 && w.rng.IntN(5) == 0 {
		return w.pick()
	}
	return path.Join(w.dir(), fmt.Sprintf("%s-r%d-%d", kind, w.cfg.Round, w.n))
}

func (w *workload) step() error {
	p := w.rng.Float64()
	switch {
	case len(w.files) < 4 || (p < 0.45 && len(w.files) < maxFiles):
		return w.create()
	case p < 0.65:
		return w.appendTo(w.pick())
	case p < 0.85:
		src := w.pick()
		dst := w.target(strings.SplitN(path.Base(src), "-", 2)[0])
		if dst == src {
			return nil
		}
		return w.rename(src, dst)
	default:
		return w.remove(w.pick())
	}
}

// create writes a temporary file next to nothing else's final name, then
// renames it into place: a final name never shows a half-written file.
func (w *workload) create() error {
	big := 0
	for _, v := range w.files {
		if v > 0 {
			big++
		}
	}
	size := w.rng.IntN(256 << 10)
	if big < maxBigFiles && w.rng.IntN(5) == 0 {
		size = bigFileSize + w.rng.IntN(2<<20)
	}
	kind := "f"
	if w.rng.IntN(3) == 0 {
		kind = "log" // later appended to in place
	}
	tmp := path.Join(w.dir(), fmt.Sprintf(".tmp-r%d-%d", w.cfg.Round, w.n))
	r := opRec{Kind: "create", Path: tmp, Seed: uint64(w.cfg.Round)<<32 | uint64(w.n), Size: size, Sync: w.rng.IntN(3) == 0}
	err := w.do(r, func() error {
		f, err := os.OpenFile(w.abs(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		data := r.data()
		for len(data) > 0 {
			n := min(len(data), 1<<20)
			if _, err := f.Write(data[:n]); err != nil {
				f.Close()
				return err
			}
			data = data[n:]
		}
		if r.Sync {
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	})
	if err != nil {
		return err
	}
	dst := w.target(kind) // before tmp counts as a file: never tmp itself
	w.files[tmp] = 0
	if size >= bigFileSize {
		w.files[tmp] = size
	}
	return w.rename(tmp, dst)
}

func (w *workload) rename(src, dst string) error {
	err := w.do(opRec{Kind: "rename", Path: src, To: dst}, func() error {
		return os.Rename(w.abs(src), w.abs(dst))
	})
	if err != nil {
		return err
	}
	w.files[dst] = w.files[src]
	delete(w.files, src)
	return nil
}

func (w *workload) appendTo(p string) error {
	r := opRec{Kind: "append", Path: p, Seed: uint64(w.cfg.Round)<<32 | uint64(w.n), Size: 1 + w.rng.IntN(64<<10)}
	return w.do(r, func() error {
		f, err := os.OpenFile(w.abs(p), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		if _, err := f.Write(r.data()); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

func (w *workload) remove(p string) error {
	err := w.do(opRec{Kind: "delete", Path: p}, func() error { return os.Remove(w.abs(p)) })
	if err == nil {
		delete(w.files, p)
	}
	return err
}

// readOpLog parses an op log: the ops that returned, in order, and the one
// op that began but did not return (nil if none). A torn last line, cut by
// the crash, is ignored.
func readOpLog(logPath string) (done []opRec, inflight *opRec, err error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r opRec
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch r.Phase {
		case "begin":
			if inflight != nil {
				return nil, nil, fmt.Errorf("op %d began before op %d was done", r.I, inflight.I)
			}
			rr := r
			inflight = &rr
		case "done":
			if inflight == nil || inflight.I != r.I || inflight.Kind != r.Kind {
				return nil, nil, fmt.Errorf("op %d done without its begin", r.I)
			}
			done = append(done, r)
			inflight = nil
		}
	}
	return done, inflight, sc.Err()
}
