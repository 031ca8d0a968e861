package ossserver

import (
	"bytes"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestPutGetHeadDelete(t *testing.T) {
	forEach(t, func(t *testing.T, srv *Running, b *oss.Bucket, sg signer) {
		for _, key := range []string{"plain", "dir/sub/file.txt", "sp ace", "plus+sign", "pct%41", "unicodé/日本", "a", "a/", "a/b", "q?x&y=z#h"} {
			data := pattern(1000+len(key), byte(len(key)))
			mustPut(t, b, key, data, oss.Meta("Color", "Blue"))
			if got := mustGet(t, b, key); !bytes.Equal(got, data) {
				t.Fatalf("%q: got %d bytes, want %d", key, len(got), len(data))
			}
			h, err := b.GetObjectDetailedMeta(key)
			if err != nil {
				t.Fatalf("head %q: %v", key, err)
			}
			if h.Get("X-Oss-Meta-Color") != "Blue" || h.Get("X-Oss-Object-Type") != "Normal" {
				t.Fatalf("head %q: headers %v", key, h)
			}
		}
		for _, key := range []string{"a", "a/", "a/b"} {
			if err := b.DeleteObject(key); err != nil {
				t.Fatalf("delete %q: %v", key, err)
			}
			_, err := b.GetObject(key)
			wantCode(t, err, "NoSuchKey")
		}
		if err := b.DeleteObject("never-existed"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
	})
}
