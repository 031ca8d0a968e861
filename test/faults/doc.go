// Package faults holds the "never lose data" end-to-end tests of ossmount:
// kill -9 loops against the write journal, SIGTERM with uploads pending, an
// OSS server that fails requests or goes away, a full or busy cache
// directory, bad command lines and odd keys in the bucket, and checks that
// secrets never surface. Every test runs the real binary as child
// processes (see test/harness) and checks the bucket through the Alibaba SDK.
package faults
