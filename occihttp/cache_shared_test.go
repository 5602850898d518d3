package occihttp_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/engine"
	"github.com/occid/occi/occihttp"
)

const computeKindLine = `Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"` + "\n"

var titleRE = regexp.MustCompile(`occi\.core\.title="([^"]*)"`)

func titleOf(t *testing.T, a answer) string {
	t.Helper()
	m := titleRE.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("no title in %d %q", a.status, a.body)
	}
	return m[1]
}

// TestCacheDiscoveryAcrossNodesAndUsers: the query interface one
// process caches shows at once a tag defined, and no longer shows a tag
// deleted, through another process; another user never sees alice's tag,
// even right after alice's cached GET /-/ (same version of the model);
// locations follow each request's Host.
func TestCacheDiscoveryAcrossNodesAndUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	b := startCacheNode(t, path, drv)
	const plain = "text/plain"
	const tagLine = `Category: blue; scheme="http://occid.local/occi/users/alice/tags#"; class="mixin"; location="/users/alice/tags/blue/"` + "\n"
	has := func(r answer) bool { return strings.Contains(r.body, "users/alice/tags#") }
	for _, acc := range []string{plain, "application/occi+json", "text/occi"} {
		r := b.do(t, "GET", "/-/", "alice", acc, "", "")
		if r.status != 200 || has(r) {
			t.Fatalf("before: %s %d", acc, r.status)
		}
	}
	if r := a.do(t, "POST", "/-/", "alice", plain, plain, tagLine); r.status != 200 {
		t.Fatalf("define through a: %d %s", r.status, r.body)
	}
	for _, acc := range []string{plain, "application/occi+json"} {
		for i := 0; i < 2; i++ {
			if r := b.do(t, "GET", "/-/", "alice", acc, "", ""); !has(r) {
				t.Fatalf("b's %s GET /-/ #%d misses the tag a defined: %q", acc, i, r.body)
			}
			if r := b.do(t, "GET", "/-/", "bob", acc, "", ""); r.status != 200 || has(r) {
				t.Fatalf("bob's %s GET /-/ after alice's shows her tag: %d %q", acc, r.status, r.body)
			}
		}
	}
	if r := b.do(t, "GET", "/-/", "alice", plain, "", "", "Host", "other.example"); !strings.Contains(r.body, `location="http://other.example/users/alice/tags/blue/"`) {
		t.Fatalf("b's GET /-/ for another Host: %q", r.body)
	}
	// Usable through b at once, and not by bob.
	made := a.do(t, "PUT", "/compute/c1", "alice", plain, plain, computeKindLine)
	if made.status != http.StatusCreated {
		t.Fatalf("create: %d %s", made.status, made.body)
	}
	if r := b.do(t, "POST", "/users/alice/tags/blue/", "bob", plain, "text/uri-list", "/compute/c1\n"); r.status != 404 {
		t.Fatalf("bob associates alice's tag: %d %s", r.status, r.body)
	}
	if r := b.do(t, "POST", "/users/alice/tags/blue/", "alice", plain, "text/uri-list", "/compute/c1\n"); r.status != 200 {
		t.Fatalf("associate through b: %d %s", r.status, r.body)
	}
	if r := a.do(t, "GET", "/compute/c1", "alice", plain, "", ""); !has(r) {
		t.Fatalf("a's GET after b associated: %q", r.body)
	}
	if r := a.do(t, "DELETE", "/-/", "alice", plain, plain, tagLine); r.status != 200 {
		t.Fatalf("delete through a: %d %s", r.status, r.body)
	}
	for _, acc := range []string{plain, "application/occi+json"} {
		if r := b.do(t, "GET", "/-/", "alice", acc, "", ""); has(r) {
			t.Fatalf("b's %s GET /-/ still shows the tag a deleted", acc)
		}
	}
	if r := b.do(t, "GET", "/compute/c1", "alice", plain, "", ""); r.status != 200 || has(r) {
		t.Fatalf("b's GET of the entity still shows the deleted tag: %d %q", r.status, r.body)
	}
	if r := b.do(t, "GET", "/users/alice/tags/blue/", "alice", plain, "", ""); r.status != 404 {
		t.Fatalf("b: GET of the deleted tag's location: %d", r.status)
	}
}

// TestCacheRecreatedEntity: an entity deleted and created again at
// the same location (through either process, by the same or another user)
// is never answered with the rendering cached for the first one.
func TestCacheRecreatedEntity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	b := startCacheNode(t, path, drv)
	const plain = "text/plain"
	put := func(n *cacheNode, user, title string) {
		t.Helper()
		r := n.do(t, "PUT", "/compute/again", user, plain, plain, computeKindLine+`X-OCCI-Attribute: occi.core.title="`+title+`"`+"\n")
		if r.status != http.StatusCreated {
			t.Fatalf("create %s by %s: %d %s", title, user, r.status, r.body)
		}
	}
	del := func(n *cacheNode, user string) {
		t.Helper()
		if r := n.do(t, "DELETE", "/compute/again", user, plain, "", ""); r.status != 200 {
			t.Fatalf("delete by %s: %d %s", user, r.status, r.body)
		}
	}
	put(a, "alice", "one")
	for i := 0; i < 2; i++ {
		if got := titleOf(t, a.do(t, "GET", "/compute/again", "alice", plain, "", "")); got != "one" {
			t.Fatalf("GET #%d: %q", i, got)
		}
	}
	del(a, "alice")
	put(a, "alice", "two")
	if got := titleOf(t, a.do(t, "GET", "/compute/again", "alice", plain, "", "")); got != "two" {
		t.Fatalf("after re-creation through a: %q", got)
	}
	del(b, "alice")
	put(b, "bob", "three")
	if r := a.do(t, "GET", "/compute/again", "alice", plain, "", ""); r.status != 404 {
		t.Fatalf("alice after bob re-created it through b: %d %q", r.status, r.body)
	}
	if r := a.do(t, "HEAD", "/compute/again", "alice", plain, "", ""); r.status != 404 {
		t.Fatalf("alice's HEAD after bob re-created it through b: %d", r.status)
	}
	if got := titleOf(t, a.do(t, "GET", "/compute/again", "bob", plain, "", "")); got != "three" {
		t.Fatalf("bob through a: %q", got)
	}
}

// noWatch hides the simulator's Watcher, so that a change in the backend
// reaches the engine only when a GET observes the entity again.
type noWatch struct{ backend.Driver }

// TestCacheObserveInterval: a change in the backend that nobody
// reports is shown by the first GET once the observe interval has passed,
// even though the entity's rendering was cached.
func TestCacheObserveInterval(t *testing.T) {
	drv := openSim(t)
	const interval = 150 * time.Millisecond
	e := cacheEngine(t, filepath.Join(t.TempDir(), "occid.db"), noWatch{drv}, func(c *engine.Config) { c.ObserveInterval = interval })
	url, _ := serveCache(t, e, nil)
	n := &cacheNode{url: url}
	const plain = "text/plain"
	if r := n.do(t, "PUT", "/compute/obs", "alice", plain, plain, computeKindLine); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	state := func() string {
		t.Helper()
		r := n.do(t, "GET", "/compute/obs", "alice", plain, "", "")
		m := regexp.MustCompile(`occi\.compute\.state="([^"]*)"`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("no state: %d %q", r.status, r.body)
		}
		return m[1]
	}
	start := `Category: start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"` + "\n"
	if r := n.do(t, "POST", "/compute/obs?action=start", "alice", plain, plain, start); r.status != 200 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	if s := state(); s != "active" {
		t.Fatalf("state after start: %s", s)
	}
	state() // answered from the cache
	if err := drv.PowerOff("/compute/obs"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(interval + 50*time.Millisecond)
	for i := 0; i < 2; i++ {
		if s := state(); s != "inactive" {
			t.Fatalf("GET #%d past the observe interval after the guest powered off: state %s", i, s)
		}
	}
}

// TestCacheHammer: while one client writes through one process,
// many GETs in every rendering go through the other; each GET that starts
// after a write returned shows that write or a later one, never older.
func TestCacheHammer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	b := startCacheNode(t, path, drv)
	const plain = "text/plain"
	if r := a.do(t, "PUT", "/compute/h", "alice", plain, plain, computeKindLine+`X-OCCI-Attribute: occi.core.title="0"`+"\n"); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var mu sync.Mutex
	done := 0 // the last title whose write returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	accepts := []string{plain, "application/occi+json", "text/occi"}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				min := done
				mu.Unlock()
				acc := accepts[(g+i)%len(accepts)]
				req, _ := http.NewRequest("GET", b.url+"/compute/h", nil)
				req.Header.Set(userHeader, "alice")
				req.Header.Set("Accept", acc)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				text := string(body) + strings.Join(resp.Header.Values("X-Occi-Attribute"), "\n")
				var got int
				if m := regexp.MustCompile(`title"?\s*[:=]\s*"(\d+)"`).FindStringSubmatch(text); m != nil {
					fmt.Sscan(m[1], &got)
				} else {
					errs <- fmt.Sprintf("%s: no title in %d %q", acc, resp.StatusCode, text)
					return
				}
				if got < min {
					errs <- fmt.Sprintf("%s GET started after write %d returned shows %d", acc, min, got)
					return
				}
			}
		}(g)
	}
	for i := 1; i <= 100; i++ {
		r := a.do(t, "POST", "/compute/h", "alice", plain, plain, computeKindLine+fmt.Sprintf(`X-OCCI-Attribute: occi.core.title="%d"`, i)+"\n")
		if r.status != 200 {
			t.Fatalf("update %d: %d %s", i, r.status, r.body)
		}
		mu.Lock()
		done = i
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCacheForwardedBase: behind a trusted proxy, each rendering of
// an entity (cached or not, GET or HEAD) carries the locations and
// Content-Location of its own request's X-Forwarded-Proto and -Host, and
// the Content-Length of its own body.
func TestCacheForwardedBase(t *testing.T) {
	drv := openSim(t)
	e := cacheEngine(t, filepath.Join(t.TempDir(), "occid.db"), drv, nil)
	url, _ := serveCache(t, e, func(o *occihttp.Options) { o.TrustProxy = true })
	n := &cacheNode{url: url}
	const plain = "text/plain"
	if r := n.do(t, "PUT", "/compute/fw", "alice", plain, plain, computeKindLine); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	host := strings.TrimPrefix(url, "http://")
	cases := []struct{ proto, fhost, want string }{
		{"", "", "http://" + host},
		{"https", "one.example", "https://one.example"},
		{"http", "one.example", "http://one.example"},
		{"https", "two.example:8443", "https://two.example:8443"},
		{"", "", "http://" + host},
	}
	for round := 0; round < 2; round++ {
		for _, c := range cases {
			for _, acc := range []string{plain, "application/occi+json"} {
				var hdr []string
				if c.proto != "" {
					hdr = append(hdr, "X-Forwarded-Proto", c.proto)
				}
				if c.fhost != "" {
					hdr = append(hdr, "X-Forwarded-Host", c.fhost)
				}
				g := n.do(t, "GET", "/compute/fw", "alice", acc, "", "", hdr...)
				h := n.do(t, "HEAD", "/compute/fw", "alice", acc, "", "", hdr...)
				if g.status != 200 || g.header.Get("Content-Location") != c.want+"/compute/fw" ||
					acc == plain && !strings.Contains(g.body, c.want+"/compute/fw") {
					t.Fatalf("round %d %s %+v: %d Content-Location %q body %q", round, acc, c, g.status, g.header.Get("Content-Location"), g.body)
				}
				for _, bad := range cases {
					if bad.want != c.want && strings.Contains(g.body, bad.want+"/") {
						t.Fatalf("round %d %s %+v: body names %s: %q", round, acc, c, bad.want, g.body)
					}
				}
				if cl := fmt.Sprint(len(g.body)); g.header.Get("Content-Length") != cl || h.header.Get("Content-Length") != cl ||
					h.header.Get("Content-Location") != c.want+"/compute/fw" || h.body != "" {
					t.Fatalf("round %d %s %+v: GET Content-Length %q (body %s), HEAD %q %q", round, acc, c,
						g.header.Get("Content-Length"), cl, h.header.Get("Content-Length"), h.header.Get("Content-Location"))
				}
			}
		}
	}
}

// plainService hides every optional interface of the service it wraps,
// so that a server over it answers without any cache.
type plainService struct{ occi.Service }

// TestCacheDiscoveryAlias: GET /-/ asked for by an alias media type
// (application/json for application/occi+json) is answered under the
// name asked for, as the server does for every other rendering and as it
// does for /-/ when the service has no DiscoveryVersioner.
func TestCacheDiscoveryAlias(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	e := cacheEngine(t, path, drv, nil)
	cachedURL, _ := serveCache(t, e, nil)
	plainURL, _ := serveCache(t, plainService{e}, nil)
	get := func(url string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/-/", nil)
		req.Header.Set(userHeader, "alice")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	want := get(plainURL).Header.Get("Content-Type")
	if !strings.HasPrefix(want, "application/json") {
		t.Fatalf("without cache: Content-Type %q", want)
	}
	for i := 0; i < 2; i++ { // a miss, then a hit
		if got := get(cachedURL).Header.Get("Content-Type"); got != want {
			t.Errorf("GET /-/ #%d with Accept: application/json: Content-Type %q, without the cache %q", i+1, got, want)
		}
	}
}

const tagScheme = "http://occid.local/occi/users/alice/tags#"

func tagDef(term, title, loc string) string {
	s := `Category: ` + term + `; scheme="` + tagScheme + `"; class="mixin"; location="` + loc + `"`
	if title != "" {
		s += `; title="` + title + `"`
	}
	return s + "\n"
}

// TestCacheTagRedefinedElsewhere: a tag deleted and defined again
// (another title, another location) through one process is what the
// other process shows next, in its query interface and at its location.
func TestCacheTagRedefinedElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "occid.db")
	drv := openSim(t)
	a := startCacheNode(t, path, drv)
	b := startCacheNode(t, path, drv)
	const plain = "text/plain"
	if r := a.do(t, "POST", "/-/", "alice", plain, plain, tagDef("red", "first title", "/users/alice/tags/red/")); r.status != 200 {
		t.Fatalf("define: %d %s", r.status, r.body)
	}
	if r := b.do(t, "GET", "/-/", "alice", plain, "", ""); !strings.Contains(r.body, "first title") {
		t.Fatalf("b does not show the tag a defined: %q", r.body)
	}
	if r := a.do(t, "DELETE", "/-/", "alice", plain, plain, tagDef("red", "", "/users/alice/tags/red/")); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := a.do(t, "POST", "/-/", "alice", plain, plain, tagDef("red", "second title", "/users/alice/tags/crimson/")); r.status != 200 {
		t.Fatalf("define again: %d %s", r.status, r.body)
	}
	ra := a.do(t, "GET", "/-/", "alice", plain, "", "")
	rb := b.do(t, "GET", "/-/", "alice", plain, "", "")
	if !strings.Contains(ra.body, "second title") {
		t.Fatalf("a does not show its own redefinition: %q", ra.body)
	}
	if strings.Contains(rb.body, "first title") || !strings.Contains(rb.body, "second title") {
		for _, l := range strings.Split(rb.body, "\n") {
			if strings.Contains(l, "red;") {
				t.Errorf("b's GET /-/ after a redefined the tag shows: %s", l)
			}
		}
	}
	if r := b.do(t, "GET", "/users/alice/tags/crimson/", "alice", plain, "", ""); r.status != 200 {
		t.Errorf("b: GET of the tag's new location: %d %s", r.status, r.body)
	}
	if r := b.do(t, "GET", "/users/alice/tags/red/", "alice", plain, "", ""); r.status != 404 {
		t.Errorf("b: GET of the tag's old location: %d %s", r.status, r.body)
	}
}
