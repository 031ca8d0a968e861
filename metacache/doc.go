// Package metacache is ossmount's only user of Badger. It keeps, for one
// mount, what the filesystem layer learned about the bucket (attributes of
// paths, complete directory listings, negative entries) and the write-back
// layer's durable journal, in a cache directory that survives restarts.
//
// Paths are relative to the mount root: "" is the root, "a/b" a child; no
// leading or trailing slash. Freshness is decided here (Options.StatTTL,
// Options.NegativeTTL, IsImmutable) so that every caller applies one policy.
//
// Two Badger databases live under the cache directory:
//
//	DIR/meta     attributes and listings: asynchronous writes, disposable
//	DIR/journal  the journal: every commit fsync'd (SyncWrites)
//
// They are separate because Badger's DB.Sync only syncs the *current*
// memtable's WAL: a journal record committed just before a memtable rotation
// would sit unsynced in an immutable memtable until its flush, so "Sync after
// commit" on a shared database is not a durability guarantee. A small
// SyncWrites database makes each journal commit durable before it returns,
// without making every attribute write pay an fsync.
//
// The package knows nothing of FUSE; it returns errors, never errnos.
package metacache
