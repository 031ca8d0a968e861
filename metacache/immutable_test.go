package metacache

import "testing"

func TestIsImmutable(t *testing.T) {
	const d = "ab12cd34"
	tests := []struct {
		path string
		want bool
	}{
		{"docker/registry/v2/blobs/sha256/ab/" + d + "/data", true},
		{"blobs/sha256/ab/" + d + "/data", true},
		{"blobs/sha512/ab/ab/data", true},
		{"docker/registry/v2/blobs/sha256/ac/" + d + "/data", false}, // prefix dir mismatch
		{"docker/registry/v2/blobs/sha256/ab/" + d, false},           // the directory, not data
		{"docker/registry/v2/blobs/sha256/ab/" + d + "/data2", false},
		{"docker/registry/v2/xblobs/sha256/ab/" + d + "/data", false},
		{"docker/registry/v2/blobs//ab/" + d + "/data", false},  // empty alg
		{"docker/registry/v2/blobs/sha256/AB/AB12/data", false}, // upper case
		{"docker/registry/v2/blobs/sha256/ab/abzz/data", false}, // not hex
		{"docker/registry/v2/blobs/sha256/a/a/data", false},     // one hex
		{"docker/registry/v2/repositories/x/_layers/sha256/ab/link", false},
		{"docker/registry/v2/repositories/x/_uploads/id/data", false},
		{"sha256/ab/" + d + "/data", false},
		{"", false},
		{"data", false},
	}
	for _, tt := range tests {
		if got := IsImmutable(tt.path); got != tt.want {
			t.Errorf("IsImmutable(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
