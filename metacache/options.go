package metacache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options configures a Cache. The zero value is usable.
type Options struct {
	StatTTL     time.Duration    // ordinary paths and listings go Stale after this; 0 = 1m; negative = always Stale
	NegativeTTL time.Duration    // a negative entry is a Miss after this; 0 = 5s; negative = never cached
	Now         func() time.Time // nil = time.Now (tests inject a clock)
	Logger      *slog.Logger     // nil = slog.Default()
}

const (
	defaultStatTTL     = time.Minute
	defaultNegativeTTL = 5 * time.Second
	// gcInterval is how often the value logs are offered to Badger's GC.
	// Values are tiny and live in the LSM tree, so there is rarely anything to do.
	gcInterval = 10 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.StatTTL == 0 {
		o.StatTTL = defaultStatTTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = defaultNegativeTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// metaOptions tunes the attribute/listing database for a small footprint
// (the daemon's peak RSS budget is 200 MiB in total). Records are tens of
// bytes, so they stay in the LSM tree (ValueThreshold) and the value log is
// only a formality; memtables (a heap arena each, ~1.3x MemTableSize) and
// compaction buffers are the dominant cost, so memtables are small and few.
// Measured with TestMemory100k: 16 MiB memtables peaked at ~145 MiB of Go
// heap, 4 MiB at ~55-65 MiB, 2 MiB no better than 4 (more flushes and
// compactions). No compression means no block cache is needed: blocks are
// read straight from the mmapped tables.
func metaOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log.With("db", "meta")}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(false). // a lost cache write costs one OSS request, nothing more
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithValueThreshold(4 << 10).
		WithValueLogFileSize(16 << 20).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithCompression(options.None).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithDetectConflicts(false) // per-directory mutexes serialise what must be serialised
}

// journalOptions tunes the journal database: few, small, fsync'd writes, so
// a 1 MiB memtable. ValueThreshold must stay below 15% of the memtable
// (Badger's batch limit); larger records go to the value log, which
// SyncWrites also fsyncs.
func journalOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log.With("db", "journal")}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(true).
		WithMemTableSize(1 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(4 << 20).
		WithValueThreshold(32 << 10).
		WithValueLogFileSize(16 << 20).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithCompression(options.None).
		WithNumCompactors(2).
		WithNumGoroutines(1).
		WithMetricsEnabled(false).
		WithDetectConflicts(false)
}

// badgerLogger routes Badger's log lines to slog: warnings and errors as
// such, Badger's chatty info and debug lines at debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) logf(level slog.Level, format string, args ...any) {
	if !b.l.Enabled(context.Background(), level) {
		return
	}
	b.l.Log(context.Background(), level, "badger: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.logf(slog.LevelError, f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.logf(slog.LevelWarn, f, a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.logf(slog.LevelDebug, f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.logf(slog.LevelDebug, f, a...) }
