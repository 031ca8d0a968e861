package ossio

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestSplitParts(t *testing.T) {
	tests := []struct {
		size, part int64
		want       int
		last       int64
	}{
		{0, 10, 0, 0},
		{1, 10, 1, 1},
		{10, 10, 1, 10},
		{11, 10, 2, 1},
		{19, 10, 2, 9},
		{maxParts*10 + 1, 10, maxParts, 0}, // grows the part size to stay within 10,000 parts
	}
	for _, tt := range tests {
		got := splitParts(tt.size, tt.part)
		if len(got) > tt.want || (tt.want < maxParts && len(got) != tt.want) {
			t.Errorf("splitParts(%d, %d): %d parts, want %d", tt.size, tt.part, len(got), tt.want)
			continue
		}
		var sum int64
		for i, p := range got {
			if p.off != sum {
				t.Errorf("splitParts(%d, %d): part %d at %d, want %d", tt.size, tt.part, i, p.off, sum)
			}
			sum += p.n
		}
		if sum != tt.size {
			t.Errorf("splitParts(%d, %d) covers %d bytes", tt.size, tt.part, sum)
		}
		if tt.last != 0 && got[len(got)-1].n != tt.last {
			t.Errorf("splitParts(%d, %d): last part %d, want %d", tt.size, tt.part, got[len(got)-1].n, tt.last)
		}
	}
}

func TestCombineCRC(t *testing.T) {
	data := make([]byte, 1<<20+17)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	for _, part := range []int64{1, 1000, 1 << 16, 1 << 20, 1<<20 + 17} {
		parts := splitParts(int64(len(data)), part)
		if len(parts) > 2000 {
			parts = splitParts(int64(len(data)), 1<<12)
		}
		crcs := make([]uint64, len(parts))
		for i, p := range parts {
			crcs[i] = crc64.Checksum(data[p.off:p.off+p.n], crcTable)
		}
		if got, want := combineCRC(crcs, parts), crc64.Checksum(data, crcTable); got != want {
			t.Errorf("part %d: combined %d, whole %d", part, got, want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	c := &Client{cfg: Config{RetryBase: 100 * time.Millisecond, RetryMax: time.Second}}
	for n := 1; n < 12; n++ {
		ceil := min(100*time.Millisecond<<(n-1), time.Second)
		for range 50 {
			if d := c.backoff(n); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceil)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	svc := func(status int, code string) error {
		return wrapErr("GetObject", "k", oss.ServiceError{StatusCode: status, Code: code, RequestID: "r1"}, nil)
	}
	dial := &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	reset := &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	tests := []struct {
		name                                    string
		err                                     error
		notFound, missing, auth, retry, unreach bool
	}{
		{"NoSuchKey", svc(404, "NoSuchKey"), true, false, false, false, false},
		{"bare 404 from HEAD", svc(404, ""), true, false, false, false, false},
		{"NoSuchBucket", svc(404, "NoSuchBucket"), false, true, false, false, false},
		{"SignatureDoesNotMatch", svc(403, "SignatureDoesNotMatch"), false, false, true, false, false},
		{"InvalidAccessKeyId", svc(403, "InvalidAccessKeyId"), false, false, true, false, false},
		{"AccessDenied", svc(403, "AccessDenied"), false, false, true, false, false},
		{"500", svc(500, "InternalError"), false, false, false, true, false},
		{"503", svc(503, "ServiceUnavailable"), false, false, false, true, false},
		{"400", svc(400, "InvalidArgument"), false, false, false, false, false},
		{"412", svc(412, "PreconditionFailed"), false, false, false, false, false},
		{"dial refused", wrapErr("HeadObject", "k", dial, nil), false, false, false, false, true},
		{"dns", wrapErr("HeadObject", "k", &url.Error{Op: "Get", URL: "http://x", Err: &net.DNSError{Err: "no such host", Name: "x"}}, nil), false, false, false, false, true},
		{"reset", wrapErr("HeadObject", "k", reset, nil), false, false, false, true, false},
		{"truncated", wrapErr("GetObject", "k", ErrTruncated, &attempt{status: 206}), false, false, false, true, false},
		{"unexpected EOF", wrapErr("GetObject", "k", io.ErrUnexpectedEOF, nil), false, false, false, true, false},
		{"crc", wrapErr("PutObject", "k", oss.CRCCheckError{}, &attempt{status: 200}), false, false, false, true, false},
		{"canceled", wrapErr("PutObject", "k", &url.Error{Op: "Put", URL: "http://x", Err: context.Canceled}, nil), false, false, false, false, false},
		{"502 without XML", wrapErr("PutObject", "k", errors.New("oss: service returned invalid response body"), &attempt{status: 502}), false, false, false, true, false},
		{"plain", errors.New("x"), false, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{IsNotFound(tt.err), IsBucketMissing(tt.err), IsAuth(tt.err), IsRetryable(tt.err), IsUnreachable(tt.err)}
			want := []bool{tt.notFound, tt.missing, tt.auth, tt.retry, tt.unreach}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%v: [notFound missing auth retry unreachable] = %v, want %v", tt.err, got, want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	err := wrapErr("PutObject", "a/b", oss.ServiceError{StatusCode: 403, Code: "SignatureDoesNotMatch", Message: "bad sig", RequestID: "R1"}, nil)
	want := `ossio: PutObject "a/b": SignatureDoesNotMatch (HTTP 403, request R1): bad sig`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Error("Unwrap lost the SDK error")
	}
}

func TestForEachStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	ran := make([]bool, 100)
	err := forEach(context.Background(), 100, 4, func(ctx context.Context, i int) error {
		ran[i] = true
		if i == 3 {
			return boom
		}
		<-ctx.Done() // every other part waits for the cancel
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	n := 0
	for _, r := range ran {
		if r {
			n++
		}
	}
	if n > 8 {
		t.Errorf("%d parts started after the failure", n)
	}
}
