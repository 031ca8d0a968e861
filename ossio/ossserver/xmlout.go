package ossserver

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
)

// xmlTime renders a time as OSS XML does: RFC 3339 in whole seconds,
// always with ".000" milliseconds (objects stored by older versions of
// this server may carry real milliseconds: they are dropped here too).
func xmlTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05.000Z")
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

var theOwner = owner{ID: "ossmount", DisplayName: "ossmount"}

type copyResult struct {
	XMLName      xml.Name
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
}

// writeXML answers v as an XML document.
func writeXML(c *reqCtx, status int, v any) *ossError {
	data, err := xml.Marshal(v)
	if err != nil {
		return errInternal(err)
	}
	// encoding/xml escapes '"' as "&#34;"; OSS writes "&quot;" (ETags are
	// quoted), and clients that match the text rather than parse XML
	// expect it. "&#34;" stands for nothing else in the output.
	data = append([]byte(xml.Header), bytes.ReplaceAll(data, []byte("&#34;"), []byte("&quot;"))...)
	h := c.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	c.w.WriteHeader(status)
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(data)
	}
	return nil
}
