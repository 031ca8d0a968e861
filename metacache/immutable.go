package metacache

import "strings"

// IsImmutable reports whether path is a content-addressed registry blob,
// whose attributes never change once it exists: any path ending in
// blobs/<alg>/<2 hex>/<hex>/data where the 2 hex are the first two of <hex>
// (distribution's layout, e.g. blobs/sha256/ab/abcd…/data). Hex is lower
// case, as distribution writes it; anything else is treated as mutable.
func IsImmutable(path string) bool {
	rest, ok := strings.CutSuffix(path, "/data")
	if !ok {
		return false
	}
	rest, hex := cutLast(rest)
	rest, two := cutLast(rest)
	rest, alg := cutLast(rest)
	_, blobs := cutLast(rest)
	return blobs == "blobs" && alg != "" && len(two) == 2 && len(hex) >= 2 &&
		isLowerHex(hex) && strings.HasPrefix(hex, two)
}

// cutLast splits off the last component of path; rest is "" when there is
// none left.
func cutLast(path string) (rest, last string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
