package ossserver

import (
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// region is what the server calls its location.
const region = "oss-cn-hangzhou"

type xmlBucket struct {
	Name             string `xml:"Name"`
	Location         string `xml:"Location"`
	CreationDate     string `xml:"CreationDate"`
	ExtranetEndpoint string `xml:"ExtranetEndpoint"`
	IntranetEndpoint string `xml:"IntranetEndpoint"`
	Region           string `xml:"Region"`
	StorageClass     string `xml:"StorageClass"`
}

type listBucketsResult struct {
	XMLName     xml.Name    `xml:"ListAllMyBucketsResult"`
	Prefix      string      `xml:"Prefix,omitempty"`
	Marker      string      `xml:"Marker,omitempty"`
	MaxKeys     int         `xml:"MaxKeys,omitempty"`
	IsTruncated bool        `xml:"IsTruncated"`
	NextMarker  string      `xml:"NextMarker,omitempty"`
	Owner       owner       `xml:"Owner"`
	Buckets     []xmlBucket `xml:"Buckets>Bucket"`
}

func (s *Server) listBuckets(c *reqCtx) *ossError {
	max, e := intParam(c, "max-keys", 100, 1, 1000)
	if e != nil {
		return e
	}
	prefix, marker := c.q["prefix"], c.q["marker"]
	s.mu.Lock()
	var names []string
	created := map[string]string{}
	for n, b := range s.buckets {
		if strings.HasPrefix(n, prefix) && n > marker {
			names = append(names, n)
			created[n] = xmlTime(b.Created)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	res := listBucketsResult{Owner: theOwner}
	if _, ok := c.q["max-keys"]; ok || prefix != "" || marker != "" {
		res.Prefix, res.Marker, res.MaxKeys = prefix, marker, max
	}
	if len(names) > max {
		names = names[:max]
		res.IsTruncated, res.NextMarker = true, names[max-1]
	}
	host := c.r.Host
	for _, n := range names {
		res.Buckets = append(res.Buckets, xmlBucket{
			Name: n, Location: region, CreationDate: created[n], ExtranetEndpoint: host,
			IntranetEndpoint: host, Region: strings.TrimPrefix(region, "oss-"), StorageClass: "Standard",
		})
	}
	return writeXML(c, http.StatusOK, res)
}

type bucketInfoResult struct {
	XMLName xml.Name `xml:"BucketInfo"`
	Bucket  struct {
		Name             string `xml:"Name"`
		AccessMonitor    string `xml:"AccessMonitor"`
		Location         string `xml:"Location"`
		CreationDate     string `xml:"CreationDate"`
		ExtranetEndpoint string `xml:"ExtranetEndpoint"`
		IntranetEndpoint string `xml:"IntranetEndpoint"`
		Grant            string `xml:"AccessControlList>Grant"`
		Redundancy       string `xml:"DataRedundancyType"`
		Owner            owner  `xml:"Owner"`
		StorageClass     string `xml:"StorageClass"`
		SSE              struct {
			SSEAlgorithm string `xml:"SSEAlgorithm"`
		} `xml:"ServerSideEncryptionRule"`
		Versioning string `xml:"Versioning,omitempty"`
	} `xml:"Bucket"`
}

func (s *Server) getBucketInfo(c *reqCtx) *ossError {
	s.mu.Lock()
	b := s.buckets[c.bucket]
	s.mu.Unlock()
	if b == nil {
		return errNoSuchBucket(c.bucket)
	}
	var res bucketInfoResult
	bi := &res.Bucket
	bi.Name, bi.AccessMonitor, bi.Location, bi.CreationDate = b.Name, "Disabled", region, xmlTime(b.Created)
	bi.ExtranetEndpoint, bi.IntranetEndpoint = c.r.Host, c.r.Host
	bi.Grant, bi.Redundancy, bi.Owner, bi.StorageClass = "private", "LRS", theOwner, "Standard"
	bi.SSE.SSEAlgorithm = "None"
	return writeXML(c, http.StatusOK, res)
}

func (s *Server) getBucketLocation(c *reqCtx) *ossError {
	return writeXML(c, http.StatusOK, struct {
		XMLName  xml.Name `xml:"LocationConstraint"`
		Location string   `xml:",chardata"`
	}{Location: region})
}

type aclResult struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   owner    `xml:"Owner"`
	Grant   string   `xml:"AccessControlList>Grant"`
}

func (s *Server) getBucketACL(c *reqCtx) *ossError {
	return writeXML(c, http.StatusOK, aclResult{Owner: theOwner, Grant: "private"})
}

func (s *Server) getObjectACL(c *reqCtx) *ossError {
	if s.peek(c.bucket, c.key) == nil {
		return errNoSuchKey()
	}
	return writeXML(c, http.StatusOK, aclResult{Owner: theOwner, Grant: "default"})
}

func (s *Server) putBucket(c *reqCtx) *ossError {
	if _, err := s.createBucket(c.bucket); err != nil {
		if errors.Is(err, errBucketExists) {
			return newErr(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available.")
		}
		return errInternal(err)
	}
	c.w.Header().Set("Location", "/"+c.bucket)
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(c *reqCtx) *ossError {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[c.bucket]
	if b == nil {
		return errNoSuchBucket(c.bucket)
	}
	if len(b.objs) > 0 || len(b.uploads) > 0 {
		return newErr(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
	}
	if err := s.meta.deleteBucket(c.bucket); err != nil {
		return errInternal(err)
	}
	delete(s.buckets, c.bucket)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
