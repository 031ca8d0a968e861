package registry

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ossmount/ossmount/test/harness"
)

// layout is the set of keys (relative to the prefix) that distribution's
// v2 OSS driver would hold, with rootdirectory equal to the prefix, after
// a set of pushes.
type layout map[string]bool

const v2root = "docker/registry/v2/"

func (l layout) blob(dgst string) { l[blobPath(dgst)] = true }

func (l layout) layerLink(repo, dgst string) {
	l[v2root+"repositories/"+repo+"/_layers/sha256/"+hexOf(dgst)+"/link"] = true
}

func (l layout) revision(repo, dgst string) {
	l[v2root+"repositories/"+repo+"/_manifests/revisions/sha256/"+hexOf(dgst)+"/link"] = true
}

func (l layout) tag(repo, tag string, dgsts ...string) {
	l[v2root+"repositories/"+repo+"/_manifests/tags/"+tag+"/current/link"] = true
	for _, d := range dgsts {
		l[v2root+"repositories/"+repo+"/_manifests/tags/"+tag+"/index/sha256/"+hexOf(d)+"/link"] = true
	}
}

// image adds an image pushed into repo: its blobs, their layer links, and
// its manifest's revision link.
func (l layout) image(t testing.TB, repo string, img v1Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ls {
		d := digestOf(t, x)
		l.blob(d)
		l.layerLink(repo, d)
	}
	c := configDigest(t, img)
	l.blob(c)
	l.layerLink(repo, c)
	l.blob(digestOf(t, img))
	l.revision(repo, digestOf(t, img))
}

func hexOf(dgst string) string { return strings.TrimPrefix(dgst, "sha256:") }

// TestKeyLayout pushes images, an index, a retag, a chunked upload, a
// monolithic upload and a cross-repository mount, unmounts, and lists the
// bucket: the keys must be exactly those distribution's OSS driver would
// have written, plus directory markers; no temporary file and nothing
// under _uploads/ may remain.
func TestKeyLayout(t *testing.T) {
	e := newRegEnv(t, harness.MountOptions{})
	want := layout{}

	img1 := image(t, "", layer(800, 1<<10), layer(801, 2<<20))
	img2 := image(t, "", layer(802, 3<<10))
	pushImage(t, e.reg, "lay/app:v1", img1)
	pushImage(t, e.reg, "lay/app:v1", img2) // retag
	want.image(t, "lay/app", img1)
	want.image(t, "lay/app", img2)
	want.tag("lay/app", "v1", digestOf(t, img1), digestOf(t, img2))

	chunked := harness.RandomBytes(803, 5<<20+3)
	if _, err := e.c.PushChunked("lay/app", chunked, 3, 0); err != nil {
		t.Fatalf("chunked upload: %v", err)
	}
	imgC := image(t, "", staticLayers([][]byte{chunked}, 0)...)
	pushImage(t, e.reg, "lay/app:c", imgC)
	want.image(t, "lay/app", imgC)
	want.tag("lay/app", "c", digestOf(t, imgC))

	solo := harness.RandomBytes(804, 300<<10)
	if _, err := e.c.PushMonolithic("lay/app", solo); err != nil {
		t.Fatalf("monolithic upload: %v", err)
	}
	want.blob(Digest(solo))
	want.layerLink("lay/app", Digest(solo))

	shared := digestOf(t, mustLayers(t, img1)[1])
	if err := e.c.Mount("lay/mounted", "lay/app", shared); err != nil {
		t.Fatalf("cross-repository mount: %v", err)
	}
	imgM := image(t, "", mustLayers(t, img1)[1], layer(805, 1<<10))
	pushImage(t, e.reg, "lay/mounted:latest", imgM)
	want.image(t, "lay/mounted", imgM)
	want.tag("lay/mounted", "latest", digestOf(t, imgM))

	amd := image(t, "linux/amd64", layer(806, 1<<20))
	arm := image(t, "linux/arm64", layer(807, 1<<20))
	idx := index(t, map[string]v1Image{"linux/amd64": amd, "linux/arm64": arm})
	if err := remote.WriteIndex(ref(t, e.reg, "lay/multi:latest"), idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	want.image(t, "lay/multi", amd)
	want.image(t, "lay/multi", arm)
	want.blob(digestOf(t, idx))
	want.revision("lay/multi", digestOf(t, idx))
	want.tag("lay/multi", "latest", digestOf(t, idx))

	e.reg.NoErrors(t)
	e.reg.Stop(t)
	e.m.Unmount(t) // waits for everything pending to reach OSS
	keys := e.b.Keys(t, e.m.Prefix)

	got := layout{}
	var markers, extra []string
	for _, k := range keys {
		rel := strings.TrimPrefix(k, e.m.Prefix)
		switch {
		case strings.Contains(rel, ".tmp"):
			t.Errorf("temporary file left in the bucket: %s", k)
		case strings.Contains(rel, "/_uploads/") && !strings.HasSuffix(rel, "/_uploads/"):
			t.Errorf("upload state left in the bucket: %s", k)
		case strings.HasSuffix(rel, "/"):
			markers = append(markers, rel)
			continue
		}
		if !want[rel] {
			extra = append(extra, rel)
		}
		got[rel] = true
	}
	var missing []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("missing key %s%s", e.m.Prefix, k)
	}
	for _, k := range extra {
		t.Errorf("unexpected key %s%s", e.m.Prefix, k)
	}
	t.Logf("%d keys as distribution's OSS driver would write them, plus %d directory markers (%d keys in all)",
		len(want), len(markers), len(keys))
	if testing.Verbose() {
		t.Logf("directory markers:\n%s", strings.Join(markers, "\n"))
	}
}

func mustLayers(t testing.TB, img v1Image) []v1Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
