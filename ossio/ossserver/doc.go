// Package ossserver is an Alibaba Cloud OSS-compatible HTTP server that the
// real aliyun-oss-go-sdk talks to unchanged. It implements the subset of the
// REST protocol described in shared/reference/oss-protocol.md: path-style,
// virtual-hosted and custom-domain (cname) addressing, V1 and V4 signature
// checks, objects (put, get with ranges, head, copy, append, delete), listings
// v1 and v2, multipart uploads (including UploadPartCopy) and a few bucket
// operations.
//
// Objects are kept in memory, or in a directory (Config.Root) that survives
// restarts. Either way the object index lives in memory; object bytes live in
// immutable "blobs" that objects reference by extent, so copies, part copies
// and appends never rewrite data that is already stored.
//
// Fault injection (latency, 500/503 answers, bodies cut mid-way) and request
// counters exist for tests; GET /_stats answers the counters as JSON.
package ossserver
