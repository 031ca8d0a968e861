package metacache

import (
	"fmt"
	"strings"
)

// Badger key schema.
//
// Metadata database (DIR/meta). A path P is relative to the mount root, ""
// for the root; a directory D likewise. The byte after the one-letter tag
// starts the path, so all keys of one kind sort together and a subtree is a
// prefix range.
//
//	v                      -> schemaVersion (ASCII); another value drops the database on Open
//	e P                    -> record of path P: attributes or negative, with the time it was seen
//	h D                    -> listing header of D: the time the complete listing was fetched
//	l D 0x00 NAME          -> record of child NAME in D's cached listing (attributes)
//
// The 0x00 after D keeps the listings of "a" and "ab" apart (a name never
// contains 0x00 or '/'), and makes a listing a prefix scan already sorted by
// name in byte order (ListingPage resumes after NAME by seeking to
// "l D 0x00 NAME 0x00"), and a lookup in it two point reads, "h D" and
// "l D 0x00 NAME" (Child). A listing counts only while its header exists:
// PutListing removes the header first and writes it last, so readers never
// see half of a listing, and InvalidateListing deletes only the header (the
// orphaned children are replaced by the next PutListing or dropped by
// DeleteTree).
//
// The seen time in an 'l' record is when that child was last written: by
// the PutListing that fetched it, or by a later Put/SetChild. PutListing
// leaves a child key in place when its record is unchanged but for the seen
// time, so a child key may be older than its header; the child was seen at
// the later of the two. 'e' records are always rewritten by PutListing.
//
// The subtree below a directory T != "" is the ranges "e T/", "h T/",
// "l T/", plus "e T", "h T", "l T 0x00" for T itself; for the root it is
// every 'e', 'h' and 'l' key.
//
// Journal database (DIR/journal):
//
//	j KEY                  -> opaque value owned by the write-back layer
const (
	schemaVersion = "1"

	tagEntry   = 'e'
	tagHeader  = 'h'
	tagListing = 'l'
	tagJournal = 'j'

	listingSep = 0x00
)

var schemaKey = []byte{'v'}

func entryKey(path string) []byte { return tagged(tagEntry, path) }

func headerKey(dir string) []byte { return tagged(tagHeader, dir) }

// listingPrefix is the prefix of every child key of dir's listing.
func listingPrefix(dir string) []byte {
	k := tagged(tagListing, dir)
	return append(k, listingSep)
}

func listingKey(dir, name string) []byte {
	return append(listingPrefix(dir), name...)
}

func journalKey(key string) []byte { return tagged(tagJournal, key) }

func tagged(tag byte, s string) []byte {
	k := make([]byte, 1, 1+len(s)+1+32)
	k[0] = tag
	return append(k, s...)
}

// splitPath returns the parent directory and base name of a non-root path.
func splitPath(path string) (dir, name string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// joinPath is the inverse of splitPath.
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// checkPath rejects paths the key schema cannot hold unambiguously.
func checkPath(path string) error {
	if strings.IndexByte(path, listingSep) >= 0 {
		return fmt.Errorf("path %q contains a NUL byte", path)
	}
	if strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
		return fmt.Errorf("path %q has a leading or trailing slash", path)
	}
	return nil
}

// checkName rejects child names that are not a single path component.
func checkName(name string) error {
	if name == "" || strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, listingSep) >= 0 {
		return fmt.Errorf("bad child name %q", name)
	}
	return nil
}
