package ossserver

import (
	"net/http"
	"strconv"
	"strings"
)

// parseRange interprets a Range header for an object of size bytes.
//
// Real OSS by default ignores a range it cannot satisfy exactly (end past
// the size, start past the size, several ranges, bad syntax) and answers 200
// with the whole object. With x-oss-range-behavior: standard, an end past
// the size is clipped and a start past it is 416 InvalidRange.
func parseRange(hdr string, size int64, standard bool) (start, length int64, partial bool, e *ossError) {
	whole := func() (int64, int64, bool, *ossError) { return 0, size, false, nil }
	unsatisfiable := func() (int64, int64, bool, *ossError) {
		err := newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range cannot be satisfied.")
		err.Header = map[string]string{"Content-Range": "bytes */" + strconv.FormatInt(size, 10)}
		return 0, 0, false, err
	}
	spec, ok := strings.CutPrefix(strings.TrimSpace(hdr), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole()
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return whole()
	}
	num := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	switch {
	case a == "": // bytes=-n: the last n bytes
		n, ok := num(b)
		if !ok {
			return whole()
		}
		if standard {
			if n == 0 || size == 0 {
				return unsatisfiable()
			}
			n = min(n, size)
			return size - n, n, true, nil
		}
		if n == 0 || n > size {
			return whole()
		}
		return size - n, n, true, nil
	case b == "": // bytes=a-
		s, ok := num(a)
		if !ok {
			return whole()
		}
		if s >= size {
			if standard {
				return unsatisfiable()
			}
			return whole()
		}
		return s, size - s, true, nil
	default:
		s, ok1 := num(a)
		t, ok2 := num(b)
		if !ok1 || !ok2 || s > t {
			return whole()
		}
		if standard {
			if s >= size {
				return unsatisfiable()
			}
			t = min(t, size-1)
			return s, t - s + 1, true, nil
		}
		if t >= size {
			return whole()
		}
		return s, t - s + 1, true, nil
	}
}
