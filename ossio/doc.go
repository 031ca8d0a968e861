// Package ossio is the only code in ossmount that talks to Alibaba Cloud OSS.
//
// It wraps github.com/aliyun/aliyun-oss-go-sdk/oss with what a filesystem
// needs and the SDK does not give: one retry layer with exponential backoff
// and full jitter (the SDK's own conn.go never retries, whatever RetryTimes
// says), request accounting per OSS API, typed error classification,
// parallel ranged downloads and multipart uploads and copies, and CRC-64
// checks end to end.
//
// Layers, from the wire up:
//   - transport.go: the http.Transport (stall timeouts, no transparent gzip)
//     and a metering RoundTripper counting bytes per API.
//   - retry.go: Client.call, the decorator every request goes through:
//     one attempt is one HTTP request; it counts calls, errors and retries,
//     backs off and wraps errors with op, key, code and request id.
//   - the operations (object.go, list.go, get.go, download.go, put.go,
//     upload.go, copy.go), each built from single-request attempts.
//
// ossio knows nothing of FUSE or errno: callers classify errors with
// IsNotFound, IsAuth, IsRetryable and friends.
package ossio
