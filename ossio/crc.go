package ossio

import (
	"fmt"
	"hash/crc64"
	"io"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// combineCRC returns the CRC-64 of the concatenation of parts, given each
// part's CRC and length (the SDK's GF(2) combine).
func combineCRC(crcs []uint64, parts []span) uint64 {
	var sum uint64
	for i, c := range crcs {
		sum = oss.CRC64Combine(sum, c, uint64(parts[i].n))
	}
	return sum
}

// crcOfSection hashes n bytes of r from off: the fallback when a server
// does not report a part's CRC.
func crcOfSection(r io.ReaderAt, off, n int64) (uint64, error) {
	h := crc64.New(crcTable)
	if _, err := io.Copy(h, io.NewSectionReader(r, off, n)); err != nil {
		return 0, fmt.Errorf("hash part at %d: %w", off, err)
	}
	return h.Sum64(), nil
}

func crcMismatch(op, key string, got, want uint64) error {
	return &Error{Op: op, Key: key, Err: fmt.Errorf("%w: client %d, server %d", ErrCRCMismatch, got, want)}
}
