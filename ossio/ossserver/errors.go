package ossserver

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// ossError is an error answered to the client with an OSS error code.
type ossError struct {
	Status  int
	Code    string
	Message string
	// Header holds extra response headers (for example
	// x-oss-next-append-position on PositionNotEqualToLength).
	Header map[string]string
}

func (e *ossError) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, format string, args ...any) *ossError {
	return &ossError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errNoSuchKey() *ossError {
	return newErr(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
}

func errNoSuchBucket(bucket string) *ossError {
	return newErr(http.StatusNotFound, "NoSuchBucket", "The specified bucket %q does not exist.", bucket)
}

func errNoSuchUpload() *ossError {
	return newErr(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
}

func errInvalidArgument(format string, args ...any) *ossError {
	return newErr(http.StatusBadRequest, "InvalidArgument", format, args...)
}

func errMalformedXML(what string) *ossError {
	return newErr(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: %s.", what)
}

func errInternal(err error) *ossError {
	return newErr(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again. (%v)", err)
}

// errorBody is the XML body of every error answer.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
	EC        string   `xml:"EC"`
	// RecommendDoc is where OSS points for the EC; clients only show it.
	RecommendDoc string `xml:"RecommendDoc"`
}

// ecOf gives a stable pseudo error-code ("EC") per code, so clients that log it
// see something shaped like real OSS's.
func ecOf(code string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(code); i++ {
		h = (h ^ uint32(code[i])) * 16777619
	}
	return fmt.Sprintf("0000-%08d", h%100000000)
}

// writeError answers e. HEAD answers carry no body, so the XML goes base64
// encoded into x-oss-err, where the SDK looks for it.
func writeError(w http.ResponseWriter, r *http.Request, reqID string, e *ossError) {
	ec := ecOf(e.Code)
	body := errorBody{Code: e.Code, Message: e.Message, RequestID: reqID, HostID: r.Host, EC: ec,
		RecommendDoc: "https://api.aliyun.com/troubleshoot?q=" + ec}
	data, _ := xml.Marshal(body)
	data = append([]byte(xml.Header), data...)
	h := w.Header()
	for k, v := range e.Header {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/xml")
	h.Set("x-oss-ec", body.EC)
	if e.Status == http.StatusNotModified {
		h.Del("Content-Type")
		w.WriteHeader(e.Status)
		return
	}
	if r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(data))
		h.Set("Content-Length", "0")
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(data)
}
