package ossserver

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// signedSubresources are the query parameters V1 signatures cover (the SDK's
// signKeyList). Everything else (prefix, marker, max-keys, ...) is unsigned.
var signedSubresources = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`acl uploads location cors logging website referer lifecycle
		delete append tagging objectMeta uploadId partNumber security-token position img style
		styleName replication replicationProgress replicationLocation cname bucketInfo comp qos
		live status vod startTime endTime symlink x-oss-process response-content-type
		x-oss-traffic-limit response-content-language response-expires response-cache-control
		response-content-disposition response-content-encoding udf udfName udfImage udfId
		udfImageDesc udfApplication udfApplicationLog restore callback callback-var qosInfo
		policy stat encryption versions versioning versionId requestPayment x-oss-request-payer
		sequential inventory inventoryId continuation-token asyncFetch worm wormId wormExtend
		withHashContext x-oss-enable-md5 x-oss-enable-sha1 x-oss-enable-sha256 x-oss-hash-ctx
		x-oss-md5-ctx transferAcceleration regionList cloudboxes x-oss-ac-source-ip
		x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow metaQuery resourceGroup rtc
		x-oss-async-process responseHeader`) {
		signedSubresources[k] = true
	}
}

// queryParam is one decoded query parameter; bare ones (?uploads) have an
// empty value.
type queryParam struct{ Key, Value string }

// parseQuery decodes a raw query keeping bare parameters; the first of
// repeated keys wins in the map.
func parseQuery(raw string) ([]queryParam, map[string]string, *ossError) {
	var list []queryParam
	m := map[string]string{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, nil, errInvalidArgument("malformed query parameter %q", k)
		}
		list = append(list, queryParam{dk, dv})
		if _, ok := m[dk]; !ok {
			m[dk] = dv
		}
	}
	return list, m, nil
}

// sdkEscape escapes like the SDK: url.QueryEscape with spaces as %20.
func sdkEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// authRequest is what a signature check needs to know about a request.
type authRequest struct {
	r      *http.Request
	bucket string
	key    string
	query  []queryParam
}

// verify checks the request's signature (header V1, V2, V4, or a V1
// presigned URL). Messages never contain the secret or the expected signature.
func (s *Server) verify(a authRequest) *ossError {
	if s.cfg.AccessKeyID == "" {
		return nil
	}
	auth := a.r.Header.Get("Authorization")
	switch {
	case auth == "":
		if sig, ok := queryValue(a.query, "Signature"); ok {
			return s.verifyPresignedV1(a, sig)
		}
		return newErr(http.StatusForbidden, "AccessDenied", "AccessDenied: no Authorization header and no signed URL parameters.")
	case strings.HasPrefix(auth, "OSS4-HMAC-SHA256 "):
		return s.verifyV4(a, strings.TrimPrefix(auth, "OSS4-HMAC-SHA256 "))
	case strings.HasPrefix(auth, "OSS2 "):
		return s.verifyV2(a, strings.TrimPrefix(auth, "OSS2 "))
	case strings.HasPrefix(auth, "OSS "):
		ak, sig, ok := strings.Cut(strings.TrimPrefix(auth, "OSS "), ":")
		if !ok {
			return errInvalidArgument("Authorization header is invalid.")
		}
		if e := s.checkKey(ak); e != nil {
			return e
		}
		// The Date line is the Date header; clients that cannot set it
		// (ali-oss, written for browsers too) send x-oss-date instead, and
		// sign its value there.
		date := a.r.Header.Get("Date")
		if date == "" {
			date = a.r.Header.Get("x-oss-date")
		}
		return checkSig(sig, s.signV1(a, date))
	default:
		return errInvalidArgument("Authorization header is invalid: unknown scheme.")
	}
}

func queryValue(q []queryParam, key string) (string, bool) {
	for _, p := range q {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

func (s *Server) checkKey(ak string) *ossError {
	if !hmac.Equal([]byte(ak), []byte(s.cfg.AccessKeyID)) {
		return newErr(http.StatusForbidden, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
	}
	return nil
}

func checkSig(got, want string) *ossError {
	if !hmac.Equal([]byte(got), []byte(want)) {
		return newErr(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return nil
}

// canonicalOSSHeaders renders the lower-cased x-oss-* headers (and extra
// names) sorted, one "name:value\n" each.
func canonicalOSSHeaders(h http.Header, extra map[string]bool, trim bool, host string) string {
	m := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") || extra[lk] {
			val := v[0]
			if trim {
				val = strings.Trim(val, " ")
			}
			m[lk] = val
		}
	}
	if extra["host"] {
		m["host"] = host
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ":" + m[k] + "\n")
	}
	return b.String()
}

// resourceV1 is /BUCKET/KEY with the signed sub-resources, raw.
func resourceV1(a authRequest, skip map[string]bool) string {
	res := "/"
	if a.bucket != "" {
		res = "/" + a.bucket + "/" + a.key
	}
	var keys []string
	vals := map[string]string{}
	for _, p := range a.query {
		if signedSubresources[p.Key] && !skip[p.Key] {
			if _, dup := vals[p.Key]; !dup {
				keys = append(keys, p.Key)
			}
			vals[p.Key] = p.Value
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 {
			res += "?"
		} else {
			res += "&"
		}
		res += k
		if vals[k] != "" {
			res += "=" + vals[k]
		}
	}
	return res
}

func (s *Server) signV1(a authRequest, date string) string {
	h := a.r.Header
	str := a.r.Method + "\n" + h.Get("Content-MD5") + "\n" + h.Get("Content-Type") + "\n" + date + "\n" +
		canonicalOSSHeaders(h, nil, false, a.r.Host) + resourceV1(a, nil)
	mac := hmac.New(sha1.New, []byte(s.cfg.AccessKeySecret))
	mac.Write([]byte(str))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verifyPresignedV1 checks ?OSSAccessKeyId=&Expires=&Signature= URLs.
func (s *Server) verifyPresignedV1(a authRequest, sig string) *ossError {
	ak, _ := queryValue(a.query, "OSSAccessKeyId")
	if e := s.checkKey(ak); e != nil {
		return e
	}
	exp, _ := queryValue(a.query, "Expires")
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return errInvalidArgument("Expires is invalid.")
	}
	if time.Now().Unix() > sec {
		return newErr(http.StatusForbidden, "AccessDenied", "Request has expired.")
	}
	return checkSig(sig, s.signV1(a, exp))
}

// encodedSubresource renders every query parameter encoded and sorted, as
// V2 and V4 sign them.
func encodedSubresource(q []queryParam, skip map[string]bool) string {
	vals := map[string]string{}
	var keys []string
	for _, p := range q {
		if skip[p.Key] {
			continue
		}
		ek := url.QueryEscape(p.Key)
		if _, dup := vals[ek]; !dup {
			keys = append(keys, ek)
		}
		vals[ek] = sdkEscape(p.Value)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if vals[k] != "" {
			b.WriteString("=" + vals[k])
		}
	}
	return b.String()
}

// parseAuthFields splits "A=x,B=y" (V4) or "A:x,B:y" (V2).
func parseAuthFields(s string, sep string) map[string]string {
	out := map[string]string{}
	for f := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), sep)
		if ok {
			out[k] = v
		}
	}
	return out
}

func additionalSet(list string) (map[string]bool, []string) {
	set := map[string]bool{}
	var names []string
	for n := range strings.SplitSeq(list, ";") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !set[n] {
			set[n] = true
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return set, names
}

func (s *Server) verifyV2(a authRequest, fields string) *ossError {
	f := parseAuthFields(fields, ":")
	if e := s.checkKey(f["AccessKeyId"]); e != nil {
		return e
	}
	extra, names := additionalSet(f["AdditionalHeaders"])
	h := a.r.Header
	res := url.QueryEscape("/")
	if a.bucket != "" {
		res = url.QueryEscape("/"+a.bucket+"/") + sdkEscape(a.key)
	}
	if sub := encodedSubresource(a.query, nil); sub != "" {
		res += "?" + sub
	}
	str := a.r.Method + "\n" + h.Get("Content-MD5") + "\n" + h.Get("Content-Type") + "\n" + h.Get("Date") + "\n" +
		canonicalOSSHeaders(h, extra, false, a.r.Host) + strings.Join(names, ";") + "\n" + res
	mac := hmac.New(sha256.New, []byte(s.cfg.AccessKeySecret))
	mac.Write([]byte(str))
	return checkSig(f["Signature"], base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func (s *Server) verifyV4(a authRequest, fields string) *ossError {
	f := parseAuthFields(fields, "=")
	cred := strings.Split(f["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aliyun_v4_request" {
		return errInvalidArgument("Authorization header is invalid: bad Credential.")
	}
	if e := s.checkKey(cred[0]); e != nil {
		return e
	}
	day, region, product := cred[1], cred[2], cred[3]
	extra, names := additionalSet(f["AdditionalHeaders"])
	delete(extra, "content-md5")
	delete(extra, "content-type")
	extra["content-md5"], extra["content-type"] = true, true
	h := a.r.Header

	res := "/"
	if a.bucket != "" {
		res = "/" + a.bucket + "/" + strings.ReplaceAll(sdkEscape(a.key), "%2F", "/")
	}
	payload := h.Get("x-oss-content-sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	canon := a.r.Method + "\n" + res + "\n" + encodedSubresource(a.query, nil) + "\n" +
		canonicalOSSHeaders(h, extra, true, a.r.Host) + "\n" + strings.Join(names, ";") + "\n" + payload
	sum := sha256.Sum256([]byte(canon))
	date := h.Get("x-oss-date")
	if date == "" {
		date = h.Get("Date")
	}
	str := "OSS4-HMAC-SHA256\n" + date + "\n" + day + "/" + region + "/" + product + "/aliyun_v4_request\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("aliyun_v4"+s.cfg.AccessKeySecret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, product)
	key = hmacSHA256(key, "aliyun_v4_request")
	return checkSig(f["Signature"], hex.EncodeToString(hmacSHA256(key, str)))
}
