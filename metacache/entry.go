package metacache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Entry is what the cache knows about one path.
type Entry struct {
	Name     string // base name (set in listings; Lookup fills it too)
	IsDir    bool
	Size     int64
	Mtime    time.Time
	Mode     uint32 // permission bits; 0 = unknown, use the mount default
	UID, GID uint32
	HasOwner bool
	MtimeSet bool // Mtime was set by utimes, not by the last write
	ETag     string
}

// Status is the freshness of a cached answer.
type Status int

const (
	Miss     Status = iota // nothing usable cached: ask OSS
	Fresh                  // cached and within its TTL
	Stale                  // cached but past its TTL: revalidate (the entry is returned)
	Negative               // recently seen not to exist
	// StaleNegative: absent from a listing younger than StatTTL but past
	// NegativeTTL: absent unless a revalidation of the listing says otherwise.
	StaleNegative
)

func (s Status) String() string {
	switch s {
	case Miss:
		return "Miss"
	case Fresh:
		return "Fresh"
	case Stale:
		return "Stale"
	case Negative:
		return "Negative"
	case StaleNegative:
		return "StaleNegative"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Record encoding (values of 'e' and 'l' keys), chosen over JSON because it
// is about 4x smaller (TestEncodedSize logs both) and allocation-free to
// decode but for the ETag string:
//
//	byte    kind: recAttrs or recNegative
//	varint  seen, Unix nanoseconds
//	(recAttrs only:)
//	byte    flags: flagDir | flagOwner | flagMtime | flagMtimeSet
//	varint  size
//	varint  mtime, Unix nanoseconds (present with flagMtime)
//	uvarint mode
//	uvarint uid, uvarint gid (present with flagOwner)
//	uvarint len(etag), etag bytes
//
// Name is not stored: it is the last component of the key.
const (
	recAttrs    = 1
	recNegative = 2

	flagDir      = 1 << 0
	flagOwner    = 1 << 1
	flagMtime    = 1 << 2
	flagMtimeSet = 1 << 3
)

// record is a decoded value.
type record struct {
	negative bool
	seen     time.Time
	entry    Entry
}

var errBadRecord = errors.New("corrupt cache record")

func encodeAttrs(e *Entry, seen time.Time) []byte {
	return appendAttrs(make([]byte, 0, 2+4*binary.MaxVarintLen64+len(e.ETag)), e, seen)
}

// appendAttrs appends e's record, seen at seen, to b.
func appendAttrs(b []byte, e *Entry, seen time.Time) []byte {
	b = append(b, recAttrs)
	b = binary.AppendVarint(b, seen.UnixNano())
	var flags byte
	if e.IsDir {
		flags |= flagDir
	}
	if e.HasOwner {
		flags |= flagOwner
	}
	if !e.Mtime.IsZero() {
		flags |= flagMtime
	}
	if e.MtimeSet {
		flags |= flagMtimeSet
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, e.Size)
	if flags&flagMtime != 0 {
		b = binary.AppendVarint(b, e.Mtime.UnixNano())
	}
	b = binary.AppendUvarint(b, uint64(e.Mode))
	if e.HasOwner {
		b = binary.AppendUvarint(b, uint64(e.UID))
		b = binary.AppendUvarint(b, uint64(e.GID))
	}
	b = binary.AppendUvarint(b, uint64(len(e.ETag)))
	return append(b, e.ETag...)
}

func encodeNegative(seen time.Time) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64)
	b = append(b, recNegative)
	return binary.AppendVarint(b, seen.UnixNano())
}

// decodeRecord decodes a value; name is filled into the entry.
func decodeRecord(b []byte, name string) (record, error) {
	d := decoder{b: b}
	var r record
	kind := d.byte()
	r.seen = time.Unix(0, d.varint())
	switch kind {
	case recNegative:
		r.negative = true
	case recAttrs:
		e := &r.entry
		e.Name = name
		flags := d.byte()
		e.IsDir = flags&flagDir != 0
		e.HasOwner = flags&flagOwner != 0
		e.MtimeSet = flags&flagMtimeSet != 0
		e.Size = d.varint()
		if flags&flagMtime != 0 {
			e.Mtime = time.Unix(0, d.varint())
		}
		e.Mode = uint32(d.uvarint())
		if e.HasOwner {
			e.UID = uint32(d.uvarint())
			e.GID = uint32(d.uvarint())
		}
		e.ETag = d.str()
	default:
		return record{}, fmt.Errorf("%w: kind %d", errBadRecord, kind)
	}
	if d.bad || len(d.b) != 0 {
		return record{}, errBadRecord
	}
	return r, nil
}

// decoder reads from b and remembers the first malformed field.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
