package replicatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi/internal/occidproc"
)

const (
	jsonType     = "application/occi+json"
	resourceKind = "http://schemas.ogf.org/occi/core#resource"
	// The tag scheme and locations of the user occid runs requests as
	// without authentication.
	tagScheme = "http://occid.local/occi/users/anonymous/tags#"
	tagPrefix = "/users/anonymous/tags/"
)

var client = &http.Client{Timeout: 60 * time.Second}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   string
}

// send makes one request; body, if any, is application/occi+json.
func send(method, rawURL string, header http.Header, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		return reply{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", jsonType)
	if body != "" {
		req.Header.Set("Content-Type", jsonType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the body: %v", method, rawURL, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// replica is one occid process of the pair.
type replica struct {
	name string
	proc *occidproc.Process
}

func (r *replica) do(t *testing.T, method, path string, header http.Header, body string) reply {
	t.Helper()
	rep, err := send(method, r.proc.Base+path, header, body)
	if err != nil {
		t.Fatalf("%s %s through %s: %v\n%s", method, path, r.name, err, r.proc.Output())
	}
	return rep
}

// want fails t unless rep has one of the statuses.
func want(t *testing.T, what string, rep reply, statuses ...int) {
	t.Helper()
	if !slices.Contains(statuses, rep.status) {
		t.Fatalf("%s: got status %d, want %v; body: %.500s", what, rep.status, statuses, rep.body)
	}
}

// revision reads the revision from an ETag such as "7".
func revision(t *testing.T, etag string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(etag, "W/"), `"`), 10, 64)
	if err != nil {
		t.Fatalf("ETag %q is not a quoted revision", etag)
	}
	return n
}

// entity is what the test reads of a JSON entity rendering.
type entity struct {
	Kind       string         `json:"kind"`
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Summary    string         `json:"summary"`
	Mixins     []string       `json:"mixins"`
	Attributes map[string]any `json:"attributes"`
}

func decode(t *testing.T, rep reply) entity {
	t.Helper()
	var e entity
	if err := json.Unmarshal([]byte(rep.body), &e); err != nil {
		t.Fatalf("the body is not a JSON entity: %v: %.500s", err, rep.body)
	}
	// Core attributes may come as attributes rather than fields.
	if s, ok := e.Attributes["occi.core.title"].(string); ok && e.Title == "" {
		e.Title = s
	}
	if s, ok := e.Attributes["occi.core.summary"].(string); ok && e.Summary == "" {
		e.Summary = s
	}
	return e
}

// locationOf returns the path of a 201's Location header.
func locationOf(t *testing.T, rep reply) string {
	t.Helper()
	u, err := url.Parse(rep.header.Get("Location"))
	if err != nil || u.Path == "" {
		t.Fatalf("201 without a usable Location header: %q", rep.header.Get("Location"))
	}
	return u.Path
}

func resourceBody(mixins []string, fields map[string]string) string {
	o := map[string]any{"kind": resourceKind}
	if len(mixins) > 0 {
		o["mixins"] = mixins
	}
	for k, v := range fields {
		o[k] = v
	}
	b, _ := json.Marshal(o)
	return string(b)
}

func tagBody(term string) string {
	b, _ := json.Marshal(map[string]any{"mixins": []any{map[string]any{"scheme": tagScheme, "term": term, "location": tagPrefix + term + "/"}}})
	return string(b)
}

func locationsBody(locs ...string) string {
	b, _ := json.Marshal(locs)
	return string(b)
}

func ifMatch(etag string) http.Header { return http.Header{"If-Match": {etag}} }

// collectionLists reports whether a JSON collection answer holds an
// entity at loc (entities are rendered with their id, the location's last
// segment).
func collectionLists(rep reply, loc string) bool {
	seg := loc[strings.LastIndex(loc, "/")+1:]
	return strings.Contains(rep.body, `"`+seg+`"`) || strings.Contains(rep.body, `"urn:uuid:`+seg+`"`) || strings.Contains(rep.body, loc+`"`)
}

func TestTwoReplicasShareOneDatabase(t *testing.T) {
	dsn := os.Getenv("OCCID_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("the two-replica test needs PostgreSQL: set OCCID_TEST_POSTGRES to a pgx DSN, e.g. by running scripts/test.sh (scripts/setup/postgres.sh starts one)")
	}
	storeURL := occidproc.PostgresSchema(t, dsn, "occid_replica")
	bin := occidproc.Build(t, t.TempDir())
	start := func(name string) *replica {
		p := occidproc.Start(t, bin, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
			"--store", storeURL, "--backend", "sim://?memory=true")
		return &replica{name: name, proc: p}
	}
	a, b := start("A"), start("B")
	both := []*replica{a, b}

	var loc string // the resource the steps share
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"created through A, read through B at once", func(t *testing.T) {
			rep := a.do(t, "POST", "/resource/", nil, resourceBody(nil, map[string]string{"title": "shared", "summary": "made through A"}))
			want(t, "POST /resource/ through A", rep, http.StatusCreated)
			loc = locationOf(t, rep)
			ga := a.do(t, "GET", loc, nil, "")
			gb := b.do(t, "GET", loc, nil, "")
			want(t, "GET through A", ga, http.StatusOK)
			want(t, "GET through B", gb, http.StatusOK)
			// Absolute URLs in a body name the replica answering; compare
			// the rest.
			bodyA := strings.ReplaceAll(ga.body, a.proc.Base, "")
			bodyB := strings.ReplaceAll(gb.body, b.proc.Base, "")
			if diff := cmp.Diff(bodyA, bodyB); diff != "" {
				t.Errorf("GET %s: body through A and through B differ (-A +B):\n%s", loc, diff)
			}
			if ga.header.Get("ETag") == "" || ga.header.Get("ETag") != gb.header.Get("ETag") {
				t.Errorf("GET %s: ETag through A %q, through B %q; want the same, non-empty", loc, ga.header.Get("ETag"), gb.header.Get("ETag"))
			}
			if e := decode(t, gb); e.Title != "shared" || e.Summary != "made through A" {
				t.Errorf("through B: got title %q summary %q, want shared, made through A", e.Title, e.Summary)
			}
		}},
		{"updated through B, seen through A", func(t *testing.T) {
			rep := b.do(t, "POST", loc, nil, resourceBody(nil, map[string]string{"title": "renamed through B"}))
			want(t, "POST update through B", rep, http.StatusOK)
			ga := a.do(t, "GET", loc, nil, "")
			want(t, "GET through A", ga, http.StatusOK)
			if e := decode(t, ga); e.Title != "renamed through B" {
				t.Errorf("title through A: got %q, want %q", e.Title, "renamed through B")
			}
			if got, w := ga.header.Get("ETag"), rep.header.Get("ETag"); got != w {
				t.Errorf("ETag through A: got %q, want %q from B's update", got, w)
			}
		}},
		{"ETag changes on every update", func(t *testing.T) {
			prev := a.do(t, "GET", loc, nil, "").header.Get("ETag")
			seen := []string{prev}
			for i := range 6 {
				via, other := both[i%2], both[(i+1)%2]
				rep := via.do(t, "POST", loc, nil, resourceBody(nil, map[string]string{"summary": fmt.Sprintf("update %d through %s", i, via.name)}))
				want(t, "update through "+via.name, rep, http.StatusOK)
				etag := rep.header.Get("ETag")
				if slices.Contains(seen, etag) || revision(t, etag) <= revision(t, prev) {
					t.Errorf("update %d through %s: ETag %q, want a new one after %q", i, via.name, etag, seen)
				}
				if got := other.do(t, "GET", loc, nil, "").header.Get("ETag"); got != etag {
					t.Errorf("update %d: ETag through %s %q, want %q", i, other.name, got, etag)
				}
				seen = append(seen, etag)
				prev = etag
			}
		}},
		{"tag defined through A is usable through B", func(t *testing.T) {
			term := "replica"
			tagID, tagLoc := tagScheme+term, tagPrefix+term+"/"
			want(t, "define the tag through A", a.do(t, "POST", "/-/", nil, tagBody(term)), http.StatusOK)
			if d := b.do(t, "GET", "/-/", nil, ""); !strings.Contains(d.body, `"`+term+`"`) {
				t.Errorf("the query interface through B does not list %s: %.500s", tagID, d.body)
			}
			want(t, "define it again through B", b.do(t, "POST", "/-/", nil, tagBody(term)), http.StatusConflict)
			want(t, "associate through B", b.do(t, "POST", tagLoc, nil, locationsBody(loc)), http.StatusOK)
			if e := decode(t, a.do(t, "GET", loc, nil, "")); !slices.Contains(e.Mixins, tagID) {
				t.Errorf("mixins of %s through A: got %v, want %s", loc, e.Mixins, tagID)
			}
			if rep := a.do(t, "GET", tagLoc, nil, ""); rep.status != http.StatusOK || !collectionLists(rep, loc) {
				t.Errorf("GET %s through A: status %d, body %.500s; want 200 listing %s", tagLoc, rep.status, rep.body, loc)
			}
			rep := b.do(t, "POST", "/resource/", nil, resourceBody([]string{tagID}, map[string]string{"title": "tagged through B"}))
			want(t, "create a tagged resource through B", rep, http.StatusCreated)
			tagged := locationOf(t, rep)
			if e := decode(t, a.do(t, "GET", tagged, nil, "")); !slices.Contains(e.Mixins, tagID) {
				t.Errorf("mixins of %s through A: got %v, want %s", tagged, e.Mixins, tagID)
			}
			// Deleted through B: gone through A, and dissociated.
			want(t, "delete the tag through B", b.do(t, "DELETE", "/-/", nil, tagBody(term)), http.StatusOK, http.StatusNoContent)
			want(t, "GET the tag's collection through A", a.do(t, "GET", tagLoc, nil, ""), http.StatusNotFound)
			for _, l := range []string{loc, tagged} {
				if e := decode(t, a.do(t, "GET", l, nil, "")); slices.Contains(e.Mixins, tagID) {
					t.Errorf("%s through A still carries the deleted %s", l, tagID)
				}
			}
			want(t, "associate the deleted tag through A", a.do(t, "POST", tagLoc, nil, locationsBody(loc)), http.StatusNotFound)
			want(t, "delete the tagged resource through A", a.do(t, "DELETE", tagged, nil, ""), http.StatusOK, http.StatusNoContent)
		}},
		{"concurrent updates with If-Match of one ETag: one 200, one 412", func(t *testing.T) {
			for round := range 10 {
				etag := a.do(t, "GET", loc, nil, "").header.Get("ETag")
				replies := make([]reply, 2)
				errs := make([]error, 2)
				values := make([]string, 2)
				var wg sync.WaitGroup
				gate := make(chan struct{})
				for i, r := range both {
					values[i] = fmt.Sprintf("round %d through %s", round, r.name)
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-gate
						replies[i], errs[i] = send("POST", r.proc.Base+loc, ifMatch(etag), resourceBody(nil, map[string]string{"summary": values[i]}))
					}()
				}
				close(gate)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d: update through %s: %v", round, both[i].name, err)
					}
				}
				got := []int{replies[0].status, replies[1].status}
				sorted := slices.Clone(got)
				sort.Ints(sorted)
				if !slices.Equal(sorted, []int{http.StatusOK, http.StatusPreconditionFailed}) {
					t.Fatalf("round %d: statuses through A and B %v, want one 200 and one 412; bodies %q, %q", round, got, replies[0].body, replies[1].body)
				}
				winner := slices.Index(got, http.StatusOK)
				for _, r := range both {
					g := r.do(t, "GET", loc, nil, "")
					if e := decode(t, g); e.Summary != values[winner] {
						t.Errorf("round %d: summary through %s %q, want the winner's %q", round, r.name, e.Summary, values[winner])
					}
					if g.header.Get("ETag") != replies[winner].header.Get("ETag") {
						t.Errorf("round %d: ETag through %s %q, want the winner's %q", round, r.name, g.header.Get("ETag"), replies[winner].header.Get("ETag"))
					}
				}
			}
		}},
		{"concurrent updates without If-Match: each applied or 409", func(t *testing.T) {
			const writers = 8 // per round, half through each replica
			for round := range 5 {
				start := revision(t, a.do(t, "GET", loc, nil, "").header.Get("ETag"))
				replies := make([]reply, writers)
				errs := make([]error, writers)
				var wg sync.WaitGroup
				gate := make(chan struct{})
				for i := range writers {
					r := both[i%2]
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-gate
						replies[i], errs[i] = send("POST", r.proc.Base+loc, nil, resourceBody(nil, map[string]string{"title": fmt.Sprintf("round %d writer %d", round, i)}))
					}()
				}
				close(gate)
				wg.Wait()
				applied := map[int64]int{} // revision -> writer
				for i, rep := range replies {
					if errs[i] != nil {
						t.Fatalf("round %d writer %d: %v", round, i, errs[i])
					}
					switch rep.status {
					case http.StatusOK:
						rev := revision(t, rep.header.Get("ETag"))
						if w, dup := applied[rev]; dup {
							t.Errorf("round %d: writers %d and %d both got 200 with revision %d: one update was lost", round, w, i, rev)
						}
						applied[rev] = i
					case http.StatusConflict:
					default:
						t.Errorf("round %d writer %d through %s: status %d, want 200 or 409; body %.300s", round, i, both[i%2].name, rep.status, rep.body)
					}
				}
				if len(applied) == 0 {
					t.Fatalf("round %d: no update was applied", round)
				}
				g := b.do(t, "GET", loc, nil, "")
				final := revision(t, g.header.Get("ETag"))
				if final != start+int64(len(applied)) {
					t.Errorf("round %d: revision went from %d to %d with %d updates answered 200; want %d (every 200 is one applied update)", round, start, final, len(applied), start+int64(len(applied)))
				}
				last := applied[final]
				if e := decode(t, g); e.Title != fmt.Sprintf("round %d writer %d", round, last) {
					t.Errorf("round %d: final title %q, want the last applied update's %q", round, e.Title, fmt.Sprintf("round %d writer %d", round, last))
				}
			}
		}},
		{"deleted through A, 404 through B", func(t *testing.T) {
			want(t, "DELETE through A", a.do(t, "DELETE", loc, nil, ""), http.StatusOK, http.StatusNoContent)
			want(t, "GET through B", b.do(t, "GET", loc, nil, ""), http.StatusNotFound)
			want(t, "POST update through B", b.do(t, "POST", loc, nil, resourceBody(nil, map[string]string{"title": "too late"})), http.StatusNotFound)
			if rep := b.do(t, "GET", "/resource/", nil, ""); collectionLists(rep, loc) {
				t.Errorf("/resource/ through B still lists %s: %.500s", loc, rep.body)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Logf("occid A:\n%s\noccid B:\n%s", a.proc.Output(), b.proc.Output())
			return
		}
	}
}
