package ossio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Error is every error ossio returns for a request: the operation (an OSS
// API name or an ossio method), the key, and what OSS said. Its text never
// holds credentials: the SDK signs in headers, never in URLs.
type Error struct {
	Op        string // OSS API (HeadObject, UploadPart, ...) or ossio operation (Download, UploadFile, ...)
	Key       string // object key, "" for bucket-level requests
	Code      string // OSS error code (NoSuchKey, ...), "" when OSS sent none
	RequestID string // x-oss-request-id of the failing response, when there was one
	Status    int    // HTTP status of the failing response, 0 when none arrived
	Err       error  // the underlying error
}

func (e *Error) Error() string {
	s := "ossio: " + e.Op
	if e.Key != "" {
		s += fmt.Sprintf(" %q", e.Key)
	}
	var se oss.ServiceError
	if errors.As(e.Err, &se) {
		// The SDK's own text repeats status, code and request id.
		s += fmt.Sprintf(": %s (HTTP %d", e.Code, e.Status)
		if e.RequestID != "" {
			s += ", request " + e.RequestID
		}
		s += ")"
		if se.Message != "" {
			s += ": " + se.Message
		}
		return s
	}
	if e.Status != 0 || e.RequestID != "" {
		s += fmt.Sprintf(" (HTTP %d, request %s)", e.Status, e.RequestID)
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrCRCMismatch is wrapped by errors where the data's CRC-64 differs
// between client and server: corruption in transit, or an object that
// changed under a multi-request read.
var ErrCRCMismatch = errors.New("crc64 mismatch")

// ErrTruncated is wrapped when a response body ended before its length.
var ErrTruncated = fmt.Errorf("response body truncated: %w", io.ErrUnexpectedEOF)

// wrapErr turns err from one attempt of op on key into an *Error, taking
// status and request id from the OSS error or else from the attempt's
// response. An *Error passes through unchanged.
func wrapErr(op, key string, err error, a *attempt) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	e = &Error{Op: op, Key: key, Err: err}
	var se oss.ServiceError
	var crc oss.CRCCheckError
	switch {
	case errors.As(err, &se):
		e.Code, e.RequestID, e.Status = se.Code, se.RequestID, se.StatusCode
	case errors.As(err, &crc):
		e.Err = fmt.Errorf("%w: %v", ErrCRCMismatch, err)
	}
	if a != nil {
		if e.Status == 0 {
			e.Status = a.status
		}
		if e.RequestID == "" {
			e.RequestID = a.requestID
		}
	}
	return e
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsNotFound reports a missing object (NoSuchKey, or a bare 404 on a HEAD,
// which carries no body to name the code).
func IsNotFound(err error) bool {
	e := asError(err)
	if e == nil {
		return false
	}
	return e.Code == "NoSuchKey" || (e.Code == "" && e.Status == 404)
}

// IsBucketMissing reports NoSuchBucket.
func IsBucketMissing(err error) bool {
	e := asError(err)
	return e != nil && e.Code == "NoSuchBucket"
}

// IsAuth reports a refusal of the credentials or of the access:
// SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied and any other 403.
func IsAuth(err error) bool {
	e := asError(err)
	if e == nil {
		return false
	}
	switch e.Code {
	case "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "SecurityTokenExpired", "InvalidSecurityToken":
		return true
	}
	return e.Status == 403
}

// IsUnreachable reports that no connection could be made at all: a refused
// or timed-out dial, or a failed DNS lookup.
func IsUnreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// IsRetryable reports a failure worth another attempt: 5xx, timeouts,
// connections broken mid-request, truncated bodies and CRC mismatches.
// Never other 4xx, never a cancelled context, never an unreachable endpoint.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if e := asError(err); e != nil && e.Status >= 300 {
		return e.Status >= 500
	}
	var se oss.ServiceError
	if errors.As(err, &se) && se.StatusCode >= 300 {
		return se.StatusCode >= 500
	}
	var crc oss.CRCCheckError
	if errors.Is(err, ErrCRCMismatch) || errors.As(err, &crc) {
		return true
	}
	if IsUnreachable(err) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// Anything else the HTTP client reports after connecting (the server
	// closed the connection, a malformed response) is a network failure.
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe)
}
