package metacache

import (
	"encoding/json"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	seen := time.Unix(1700000000, 42)
	tests := []struct {
		name string
		e    Entry
	}{
		{"zero", Entry{}},
		{"file", Entry{Size: 1 << 40, Mtime: time.Unix(1600000000, 999), Mode: 0o644, ETag: `"abc"`}},
		{"dir with owner", Entry{IsDir: true, Mode: 0o755, UID: 1000, GID: 65534, HasOwner: true}},
		{"root owner", Entry{HasOwner: true}},
		{"pre-1970 mtime", Entry{Mtime: time.Unix(-5, 0)}},
		{"max ids", Entry{UID: 1<<32 - 1, GID: 1<<32 - 1, HasOwner: true, Mode: 0o7777}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := decodeRecord(encodeAttrs(&tt.e, seen), "n")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.e
			want.Name = "n"
			if !entriesEqual(r.entry, want) || r.negative || !r.seen.Equal(seen) {
				t.Fatalf("got %+v seen %v, want %+v", r.entry, r.seen, want)
			}
		})
	}
	r, err := decodeRecord(encodeNegative(seen), "n")
	if err != nil || !r.negative || !r.seen.Equal(seen) {
		t.Fatalf("negative: %+v %v", r, err)
	}
}

func TestRecordCorrupt(t *testing.T) {
	good := encodeAttrs(&Entry{Size: 5, ETag: "xyz"}, time.Unix(1, 0))
	tests := map[string][]byte{
		"empty":        nil,
		"unknown kind": {9, 0},
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
		"etag too big": append(append([]byte{}, good[:len(good)-4]...), 100),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeRecord(b, "n"); err == nil {
				t.Fatal("decoded a corrupt record")
			}
		})
	}
}

// TestEncodedSize logs why the binary encoding was chosen over JSON.
func TestEncodedSize(t *testing.T) {
	e := fileEntry("layer.tar", 123456789)
	bin := encodeAttrs(&e, time.Now())
	js, _ := json.Marshal(struct {
		Entry
		Seen time.Time
	}{e, time.Now()})
	t.Logf("typical file record: binary %d bytes, JSON %d bytes", len(bin), len(js))
	if len(bin) >= len(js) {
		t.Fatalf("binary (%d) not smaller than JSON (%d)", len(bin), len(js))
	}
}

func entriesEqual(a, b Entry) bool {
	return a.Name == b.Name && a.IsDir == b.IsDir && a.Size == b.Size && a.Mtime.Equal(b.Mtime) &&
		a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID && a.HasOwner == b.HasOwner && a.ETag == b.ETag
}
