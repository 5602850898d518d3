package crashtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // integrity check of the SQLite file after the kill

	"github.com/occid/occi"
	"github.com/occid/occi/internal/occidproc"
	"github.com/occid/occi/store"
	"github.com/occid/occi/store/pgstore"
	"github.com/occid/occi/store/sqlitestore"
)

const (
	creates      = 500 // concurrent creates in flight when occid is killed
	killAfter    = 100 // responses received before the kill
	actionVMs    = 8   // computes that take start/stop actions meanwhile
	computeKind  = "http://schemas.ogf.org/occi/infrastructure#compute"
	actionScheme = "http://schemas.ogf.org/occi/infrastructure/compute/action#"
)

// server is a running occid process.
type server = occidproc.Process

func start(t *testing.T, dataDir, storeURL string) *server {
	t.Helper()
	// All 500 creates must really be in flight when occid is killed, so
	// load shedding (--max-inflight, 256 by default) is lifted.
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dataDir, "--backend", "sim://", "--max-inflight", "0"}
	if storeURL != "" {
		args = append(args, "--store", storeURL)
	}
	return occidproc.Start(t, occidproc.Binary(t), args...)
}

var client = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: creates + actionVMs, MaxConnsPerHost: 0},
}

type jsonEntity struct {
	Kind       string         `json:"kind"`
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Attributes map[string]any `json:"attributes"`
}

func create(base, title string, cores int, memory float64) (status int, location, etag string, err error) {
	body := fmt.Sprintf(`{"kind":%q,"title":%q,"attributes":{"occi.compute.cores":%d,"occi.compute.memory":%s}}`,
		computeKind, title, cores, strconv.FormatFloat(memory, 'f', 1, 64))
	req, _ := http.NewRequest(http.MethodPost, base+"/compute/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/occi+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	loc := resp.Header.Get("Location")
	if u, err := url.Parse(loc); err == nil && u.Path != "" {
		loc = u.Path
	}
	return resp.StatusCode, loc, resp.Header.Get("ETag"), nil
}

func get(base, path string) (int, *jsonEntity, string, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Accept", "application/occi+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, "", nil
	}
	var e jsonEntity
	if err := json.Unmarshal(b, &e); err != nil {
		return resp.StatusCode, nil, "", fmt.Errorf("GET %s: body is not an entity: %v: %s", path, err, b)
	}
	return resp.StatusCode, &e, resp.Header.Get("ETag"), nil
}

func act(base, path, action string) (int, string, error) {
	body := fmt.Sprintf(`{"action":%q}`, actionScheme+action)
	req, _ := http.NewRequest(http.MethodPost, base+path+"?action="+action, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/occi+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), nil
}

func etagRev(t *testing.T, etag string) int64 {
	t.Helper()
	s := strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("ETag %q is not a quoted revision", etag)
	}
	return n
}

// sent is what one create request asked for.
type sent struct {
	title  string
	cores  int
	memory float64
}

func request(i int) sent {
	return sent{title: fmt.Sprintf("crash-%03d", i), cores: i%8 + 1, memory: float64(i%4) + 0.5}
}

// vmState is what the action loop knows about one compute at the kill.
type vmState struct {
	loc      string
	acked    string // state after the last action that got 200 ("inactive" before any)
	ackedRev int64  // the ETag revision of that answer
	inFlight string // state after an action that got no answer, if any
	actions  int    // actions acknowledged with 200
	refused  int    // status of a non-200 answer that ended the loop, if any
}

var stateAfter = map[string]string{"start": "active", "stop": "inactive"}

func TestCrashSQLite(t *testing.T) {
	dir := t.TempDir()
	runCrash(t, dir, "", func(t *testing.T) store.Store {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "occid.db"))
		if err != nil {
			t.Fatal(err)
		}
		var res string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("integrity_check of the database after SIGKILL: got %q, %v; want ok", res, err)
		}
		db.Close()
		s, err := sqlitestore.Open(filepath.Join(dir, "occid.db"))
		if err != nil {
			t.Fatalf("open the database after the kill: %v", err)
		}
		return s
	})
}

func TestCrashPostgres(t *testing.T) {
	dsn := os.Getenv("OCCID_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("the PostgreSQL crash test needs a server: set OCCID_TEST_POSTGRES to a pgx DSN, e.g. by running scripts/test.sh (scripts/setup/postgres.sh starts one)")
	}
	ctx := context.Background()
	storeURL := occidproc.PostgresSchema(t, dsn, "occid_crash")
	runCrash(t, t.TempDir(), storeURL, func(t *testing.T) store.Store {
		s, err := pgstore.Open(ctx, storeURL)
		if err != nil {
			t.Fatalf("open the database after the kill: %v", err)
		}
		return s
	})
}

// runCrash runs the scenario on one data dir and store; openStore opens the
// store directly once occid has been restarted.
func runCrash(t *testing.T, dataDir, storeURL string, openStore func(t *testing.T) store.Store) {
	srv := start(t, dataDir, storeURL)

	// Computes whose action state is followed across the crash.
	vms := make([]*vmState, actionVMs)
	for i := range vms {
		status, loc, _, err := create(srv.Base, fmt.Sprintf("action-%d", i), 1, 1.0)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("create action compute %d: status %d, %v\n%s", i, status, err, srv.Output())
		}
		vms[i] = &vmState{loc: loc, acked: "inactive", ackedRev: 1}
		// One acknowledged action before the burst, so every VM has action
		// state to lose.
		status, etag, err := act(srv.Base, loc, "start")
		if err != nil || status != http.StatusOK {
			t.Fatalf("start %s: status %d, %v\n%s", loc, status, err, srv.Output())
		}
		vms[i].acked, vms[i].ackedRev = "active", etagRev(t, etag)
		vms[i].actions++
	}

	type result struct {
		status int
		loc    string
		etag   string
		err    error
	}
	results := make([]result, creates)
	var answered atomic.Int32
	killed := make(chan struct{})
	go_ := make(chan struct{})
	var wg sync.WaitGroup
	for i := range creates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-go_
			r := request(i)
			status, loc, etag, err := create(srv.Base, r.title, r.cores, r.memory)
			results[i] = result{status, loc, etag, err}
			if err == nil {
				answered.Add(1)
			}
		}()
	}
	for _, vm := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-go_
			for n := 0; ; n++ {
				action := []string{"stop", "start"}[n%2]
				status, etag, err := act(srv.Base, vm.loc, action)
				if err != nil || status != http.StatusOK {
					// No answer (the kill) or a refusal: the action may or
					// may not have been applied.
					vm.inFlight = stateAfter[action]
					if err == nil {
						vm.refused = status
					}
					return
				}
				vm.acked, vm.ackedRev = stateAfter[action], etagRev(t, etag)
				vm.actions++
				select {
				case <-killed:
					return
				default:
				}
			}
		}()
	}
	close(go_)
	deadline := time.Now().Add(60 * time.Second)
	for answered.Load() < killAfter && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	atKill := answered.Load()
	srv.Kill()
	close(killed)
	wg.Wait()

	var acked []int
	failed := 0
	for i, r := range results {
		switch {
		case r.err != nil:
			failed++
		case r.status == http.StatusCreated:
			acked = append(acked, i)
		default:
			t.Errorf("create %d: got status %d, want 201 (or no answer after the kill)", i, r.status)
		}
	}
	t.Logf("killed occid after %d answers; %d creates got 201, %d got no answer", atKill, len(acked), failed)
	if failed == 0 {
		t.Errorf("every create was answered before the kill: the test did not kill occid mid-flight")
	}

	// Restart on the same data and check what was acknowledged.
	srv2 := start(t, dataDir, storeURL)
	for _, i := range acked {
		r, want := results[i], request(i)
		status, e, etag, err := get(srv2.Base, r.loc)
		if err != nil || status != http.StatusOK {
			t.Errorf("acknowledged create %d at %s: GET after restart got status %d, %v; want 200", i, r.loc, status, err)
			continue
		}
		if e.Kind != computeKind || e.Title != want.title || e.Attributes["occi.compute.cores"] != float64(want.cores) ||
			e.Attributes["occi.compute.memory"] != want.memory {
			t.Errorf("acknowledged create %d at %s after restart: got kind %q title %q attributes %v; want %s, %q, cores %d, memory %v",
				i, r.loc, e.Kind, e.Title, e.Attributes, computeKind, want.title, want.cores, want.memory)
		}
		if etagRev(t, etag) < etagRev(t, r.etag) {
			t.Errorf("%s: ETag after restart %s is older than the acknowledged %s", r.loc, etag, r.etag)
		}
	}
	for _, vm := range vms {
		status, e, etag, err := get(srv2.Base, vm.loc)
		if err != nil || status != http.StatusOK {
			t.Errorf("action compute %s: GET after restart got %d, %v", vm.loc, status, err)
			continue
		}
		state, _ := e.Attributes["occi.compute.state"].(string)
		if state != vm.acked && state != vm.inFlight {
			t.Errorf("action compute %s: state after restart %q, want %q (last acknowledged action) or %q (the one in flight)",
				vm.loc, state, vm.acked, vm.inFlight)
		}
		if rev := etagRev(t, etag); rev < vm.ackedRev {
			t.Errorf("action compute %s: revision after restart %d, older than the acknowledged %d", vm.loc, rev, vm.ackedRev)
		}
	}

	// No half-written entity: everything stored decodes, is one of the
	// requests with exactly the attributes sent, and reads over HTTP.
	st := openStore(t)
	defer st.Close()
	ents, err := st.List(context.Background(), store.Query{Kinds: []occi.CategoryID{{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}}})
	if err != nil {
		t.Fatalf("List computes from the store after the crash: %v", err)
	}
	titles := map[string]bool{}
	for _, e := range ents {
		if strings.HasPrefix(e.Title, "action-") {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(e.Title, "crash-%03d", &i); err != nil || i < 0 || i >= creates {
			t.Errorf("stored entity %s has title %q, which no request sent", e.Location, e.Title)
			continue
		}
		if titles[e.Title] {
			t.Errorf("request %q is stored twice", e.Title)
		}
		titles[e.Title] = true
		want := request(i)
		if e.Attributes["occi.compute.cores"] != int64(want.cores) || e.Attributes["occi.compute.memory"] != want.memory {
			t.Errorf("stored entity %s (%s): attributes %v, want cores %d memory %v", e.Location, e.Title, e.Attributes, want.cores, want.memory)
		}
		if status, _, _, err := get(srv2.Base, e.Location); err != nil || status != http.StatusOK {
			t.Errorf("stored entity %s: GET after restart got %d, %v; want 200", e.Location, status, err)
		}
	}
	if len(titles) < len(acked) {
		t.Errorf("store holds %d created computes, fewer than the %d acknowledged", len(titles), len(acked))
	}
	actions := 0
	for _, vm := range vms {
		actions += vm.actions
		if vm.refused != 0 {
			t.Errorf("action on %s got status %d before the kill, want 200", vm.loc, vm.refused)
		}
	}
	t.Logf("after restart: %d computes from the burst are stored (%d acknowledged, %d unanswered); the state of %d computes after %d acknowledged actions checked",
		len(titles), len(acked), failed, len(vms), actions)
}
