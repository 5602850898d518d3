// Command occibench is occid's load harness. It builds occid, starts it on
// loopback (a temporary data dir, the simulator backend with instant
// timings and its state in memory, sim://?delay=0&memory=true, so that what
// is measured is occid and its store rather than the simulator's own state
// file; the default SQLite store or, with -store, a fresh schema in a
// PostgreSQL database), and measures it side by side with the ceilings of
// this machine, in one run:
//
//   - GET one compute (text/plain and JSON) and GET /-/ (text/plain and
//     JSON) from 64 connections, against a plain net/http server started
//     the same way (this program again, as a separate process) that replays
//     the same responses from memory: same status, same headers, same body;
//     with latency percentiles p50 and p99 at 64 connections;
//   - POST create of a compute (durable), from 1 and from 16 connections,
//     against raw inserts of the same rows (entities and entity_mixins,
//     one transaction each) into the same database with the same
//     connection and durability settings, from as many goroutines;
//   - with 100,000 computes, bulk-loaded through the store package
//     directly (not over HTTP, to keep the run short): one page of 100 in
//     JSON (the first, and one at offset 49,900), the whole collection as
//     text/uri-list (occid runs with --max-page 100000 so that one
//     response holds it), each against the constant-body ceiling too; and
//     occid's resident memory (VmRSS and its peak VmHWM from /proc).
//
// Each measurement runs several times (-runs), interleaving occid and its
// ceiling so that noise hits both alike; the report gives medians and the
// median of the per-run ratios. For the GETs it also gives the CPU time
// each server process used per request (from /proc/<pid>/stat), which
// varies much less than throughput on a shared machine. Only loopback
// traffic; the whole run takes two to three minutes with the defaults
// (most of it loading the 100,000 computes).
//
// Usage, from the repository root:
//
//	go run ./cmd/occibench [-runs 3] [-d 2s] [-store "$OCCID_TEST_POSTGRES"] [-pprof DIR]
//	go run ./cmd/occibench -occid /path/to/occid   # measure a binary built elsewhere
//	go run ./cmd/occibench -phases get             # only some measurements: get, scale, create
//
// With -pprof DIR, occid is built with net/http/pprof added through
// go build -overlay (its package is not changed) and a CPU profile and
// allocation snapshots of every occid measurement of the first run are
// written to DIR.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/occid/occi"
)

var computeKind = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}

// Media types asked for.
const (
	textPlain = "text/plain"
	occiJSON  = "application/occi+json"
	uriList   = "text/uri-list"
)

type options struct {
	runs        int
	d           time.Duration
	conns       int
	createConns int
	entities    int
	store       string
	occid       string
	pprof       string
	occidArgs   string
	keep        bool
	phases      map[string]bool
}

func main() {
	if file := os.Getenv(ceilingEnv); file != "" {
		if err := serveCeiling(file); err != nil {
			fmt.Fprintln(os.Stderr, "occibench ceiling:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.runs, "runs", 3, "how many times each measurement runs; the report gives medians")
	flag.DurationVar(&o.d, "d", 2*time.Second, "duration of one throughput measurement")
	flag.IntVar(&o.conns, "c", 64, "connections for the GET measurements")
	flag.IntVar(&o.createConns, "create-c", 16, "connections (and raw-insert goroutines) for the concurrent create measurement")
	flag.IntVar(&o.entities, "n", 100_000, "computes in the collection for the scale measurements")
	flag.StringVar(&o.store, "store", "", `"" for occid's default SQLite store, or a postgres:// DSN (e.g. "$OCCID_TEST_POSTGRES"): occibench creates a fresh schema there and drops it at the end`)
	flag.StringVar(&o.occid, "occid", "", "an occid binary to measure instead of building ./cmd/occid")
	flag.StringVar(&o.pprof, "pprof", "", "directory for CPU and allocation profiles of occid (built with net/http/pprof through -overlay)")
	flag.StringVar(&o.occidArgs, "occid-args", "", "extra flags for occid, space-separated (e.g. \"--log-level warn\")")
	flag.DurationVar(&requestTimeout, "timeout", requestTimeout, "longest a single request may take before it counts as failed")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (occid's data dir and logs)")
	phases := flag.String("phases", "get,scale,create", "the measurements to run, comma-separated: get, scale, create")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./cmd/occibench [flags]\n\nMeasures occid against the machine's ceilings; see docs/benchmarks.md.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case "get", "scale", "create":
			o.phases[p] = true
		default:
			fmt.Fprintf(os.Stderr, "occibench: -phases: unknown measurement %q (want get, scale or create)\n", p)
			os.Exit(2)
		}
	}
	if o.runs < 1 || o.d <= 0 || o.conns < 1 || o.createConns < 1 || o.entities < 1 {
		fmt.Fprintln(os.Stderr, "occibench: -runs, -d, -c, -create-c and -n must be positive")
		os.Exit(2)
	}
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "occibench:", err)
		os.Exit(1)
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// bench holds what a run set up.
type bench struct {
	o        options
	tmp      string
	db       database
	occid    *process
	ceiling  *process
	pprof    string // host:port of occid's pprof listener, if any
	entity   string // path of the compute the GETs read
	captures []captured
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "occibench: "+format+"\n", args...)
}

func run(ctx context.Context, o options) (err error) {
	started := time.Now()
	b := &bench{o: o}
	b.tmp, err = os.MkdirTemp("", "occibench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			b.logf("kept %s", b.tmp)
		} else {
			os.RemoveAll(b.tmp)
		}
	}()
	dataDir := filepath.Join(b.tmp, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if o.pprof != "" {
		if err := os.MkdirAll(o.pprof, 0o755); err != nil {
			return err
		}
	}

	bin := o.occid
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		b.logf("building occid")
		if bin, err = buildOccid(root, b.tmp, o.pprof != ""); err != nil {
			return err
		}
	}

	if o.store != "" {
		pg, err := newPG(ctx, o.store)
		if err != nil {
			return err
		}
		b.db = pg
	} else {
		b.db = sqliteIn(dataDir)
	}
	defer func() {
		if cerr := b.db.close(); cerr != nil && err == nil {
			err = fmt.Errorf("drop the benchmark schema: %v", cerr)
		}
	}()

	args := []string{"--data-dir", dataDir, "--backend", "sim://?delay=0&memory=true", "--max-page", fmt.Sprint(o.entities)}
	args = append(args, b.db.occidArgs()...)
	args = append(args, strings.Fields(o.occidArgs)...)
	var env []string
	if o.pprof != "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		b.pprof = port
		env = append(env, "OCCIBENCH_PPROF="+port)
	}
	b.logf("starting occid on %s", b.db.describe())
	b.occid, err = startOccid(bin, args, env, filepath.Join(b.tmp, "occid.log"))
	if err != nil {
		return err
	}
	defer func() {
		if serr := b.occid.stop(); serr != nil && err == nil {
			err = fmt.Errorf("occid did not stop cleanly: %v (see its log)", serr)
		}
	}()
	rep := &report{o: o, store: b.db.describe(), started: started}
	rep.rssStart, _, _ = memory(b.occid.pid())

	// The compute the GETs read, created over HTTP like any other.
	b.entity, err = b.createOne()
	if err != nil {
		return err
	}
	b.logf("bulk-loading %d computes through the store", o.entities)
	t0 := time.Now()
	n, err := bulkLoad(ctx, b.db, b.entity, o.entities)
	if err != nil {
		return fmt.Errorf("bulk load: %v", err)
	}
	rep.bulkN, rep.bulkTime = n, time.Since(t0)

	gets := []struct {
		name, path, accept string
	}{
		{"GET one compute, text/plain", b.entity, textPlain},
		{"GET one compute, JSON", b.entity, occiJSON},
		{"GET /-/, text/plain", "/-/", textPlain},
		{"GET /-/, JSON", "/-/", occiJSON},
	}
	scale := []struct {
		name, path, accept string
		lines              int
	}{
		{"page of 100, JSON (first page)", "/compute/?number=100", occiJSON, 0},
		{"page of 100, JSON (offset 49,900)", "/compute/?number=100&page=500", occiJSON, 0},
		{fmt.Sprintf("all %d as text/uri-list", o.entities), fmt.Sprintf("/compute/?number=%d", o.entities), uriList, o.entities},
	}
	for _, g := range gets {
		if err := b.capture(g.path, g.accept); err != nil {
			return err
		}
	}
	for _, s := range scale {
		if err := b.capture(s.path, s.accept); err != nil {
			return err
		}
		if s.lines > 0 {
			c := b.captures[len(b.captures)-1]
			if got := strings.Count(string(c.Body), "\n"); got != s.lines {
				return fmt.Errorf("GET %s as %s: got %d lines, want %d", s.path, s.accept, got, s.lines)
			}
		}
	}
	capFile := filepath.Join(b.tmp, "captured.json")
	data, err := json.Marshal(b.captures)
	if err != nil {
		return err
	}
	if err := os.WriteFile(capFile, data, 0o600); err != nil {
		return err
	}
	b.ceiling, err = startCeiling(capFile, filepath.Join(b.tmp, "ceiling.log"))
	if err != nil {
		return err
	}
	defer b.ceiling.stop()

	// GETs at 64 connections, occid and ceiling interleaved.
	for _, g := range gets {
		if !o.phases["get"] {
			break
		}
		m := &pairResult{name: g.name}
		rep.gets = append(rep.gets, m)
		t := target{method: "GET", path: g.path, header: [][2]string{{"Accept", g.accept}}}
		for i := range o.runs {
			b.logf("%s: run %d/%d", g.name, i+1, o.runs)
			warm := max(o.d/8, 100*time.Millisecond)
			load(b.occid.addr, t, o.conns, warm, 0)
			m.occid = append(m.occid, b.profiled(i, g.name, func() loadResult {
				return measured(b.occid.pid(), func() loadResult { return load(b.occid.addr, t, o.conns, o.d, 0) })
			}))
			load(b.ceiling.addr, t, o.conns, warm, 0)
			m.ceiling = append(m.ceiling, measured(b.ceiling.pid(), func() loadResult { return load(b.ceiling.addr, t, o.conns, o.d, 0) }))
		}
		if !strings.Contains(g.name, "compute") {
			continue
		}
		// Latency at a load both can serve: the same 64 connections,
		// paced at half the ceiling's closed-loop rate of this run.
		_, ce, _ := m.rates()
		m.pacedRate = ce * pacedShare
		for i := range o.runs {
			b.logf("%s, paced at %.0f/s: run %d/%d", g.name, m.pacedRate, i+1, o.runs)
			m.pacedOccid = append(m.pacedOccid, loadPaced(b.occid.addr, t, o.conns, o.d, m.pacedRate))
			m.pacedCeiling = append(m.pacedCeiling, loadPaced(b.ceiling.addr, t, o.conns, o.d, m.pacedRate))
		}
	}

	// Scale: one connection, one request at a time.
	for _, s := range scale {
		if !o.phases["scale"] {
			break
		}
		m := &pairResult{name: s.name, lines: s.lines}
		rep.scale = append(rep.scale, m)
		t := target{method: "GET", path: s.path, header: [][2]string{{"Accept", s.accept}}}
		d := max(o.d/2, 250*time.Millisecond)
		for i := range o.runs {
			b.logf("%s: run %d/%d", s.name, i+1, o.runs)
			var r loadResult
			if w := load(b.occid.addr, t, 1, 0, 1); w.percentile(50) > o.d {
				// Too slow to repeat within the time budget: the warm-up
				// request is the one sample.
				r, m.single = w, true
			} else {
				r = b.profiled(i, s.name, func() loadResult { return load(b.occid.addr, t, 1, d, 3) })
			}
			if s.lines > 0 && r.requests > 0 && r.lines != int64(s.lines)*int64(r.requests) {
				return fmt.Errorf("%s: got %d lines in %d responses, want %d each", s.name, r.lines, r.requests, s.lines)
			}
			m.occid = append(m.occid, r)
			load(b.ceiling.addr, t, 1, 0, 1)
			m.ceiling = append(m.ceiling, load(b.ceiling.addr, t, 1, d, 3))
			if m.single {
				break
			}
		}
	}
	rep.rssScale, rep.hwmScale, _ = memory(b.occid.pid())

	// Creates against raw inserts of the same rows.
	rows, err := b.db.rows(ctx, 100)
	if err != nil {
		return err
	}
	body := []byte("Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n" +
		"X-OCCI-Attribute: occi.core.title=\"bench\"\n" +
		"X-OCCI-Attribute: occi.compute.cores=2\n" +
		"X-OCCI-Attribute: occi.compute.memory=4.0\n")
	create := target{method: "POST", path: "/compute/", body: body, wantStatus: http.StatusCreated,
		header: [][2]string{{"Content-Type", textPlain}, {"Accept", textPlain}}}
	for _, conns := range []int{1, o.createConns} {
		if !o.phases["create"] {
			break
		}
		m := &pairResult{name: fmt.Sprintf("create, %d connection%s", conns, plural(conns))}
		rep.creates = append(rep.creates, m)
		for i := range o.runs {
			b.logf("%s: run %d/%d", m.name, i+1, o.runs)
			m.occid = append(m.occid, b.profiled(i, m.name, func() loadResult { return load(b.occid.addr, create, conns, o.d, 0) }))
			r, err := rawInsertLoad(ctx, b.db, rows, conns, o.d)
			if err != nil {
				return fmt.Errorf("raw inserts: %v", err)
			}
			m.ceiling = append(m.ceiling, r)
		}
	}
	if err := b.db.deleteRaw(ctx); err != nil {
		return fmt.Errorf("delete the raw-inserted rows: %v", err)
	}
	rep.rssEnd, rep.hwmEnd, err = memory(b.occid.pid())
	if err != nil {
		return err
	}
	rep.elapsed = time.Since(started)
	rep.print(os.Stdout)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// createOne creates a compute over HTTP and returns its path.
func (b *bench) createOne() (string, error) {
	body := "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n" +
		"X-OCCI-Attribute: occi.core.title=\"bench\"\nX-OCCI-Attribute: occi.compute.cores=2\n"
	req, err := http.NewRequest("POST", "http://"+b.occid.addr+"/compute/", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", textPlain)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /compute/: %s: %s", resp.Status, msg)
	}
	loc := resp.Header.Get("Location")
	path := strings.TrimPrefix(loc, "http://"+b.occid.addr)
	if !strings.HasPrefix(path, "/compute/") {
		return "", fmt.Errorf("POST /compute/: Location %q is not under /compute/", loc)
	}
	return path, nil
}

// capture GETs path from occid and records the response for the ceiling.
func (b *bench) capture(path, accept string) error {
	req, err := http.NewRequest("GET", "http://"+b.occid.addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "occibench")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s as %s: %s: %.300s", path, accept, resp.Status, body)
	}
	b.captures = append(b.captures, captured{Path: path, Accept: accept, Status: resp.StatusCode, Header: resp.Header, Body: body})
	return nil
}

// profiled runs f; with -pprof, in the first run, it records a CPU profile
// of occid while f runs and allocation snapshots before and after.
func (b *bench) profiled(run int, name string, f func() loadResult) loadResult {
	if b.pprof == "" || run != 0 {
		return f()
	}
	slug := slugify(name)
	base := "http://" + b.pprof + "/debug/pprof/"
	save := func(url, file string) error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		out, err := os.Create(filepath.Join(b.o.pprof, file))
		if err != nil {
			return err
		}
		_, err = io.Copy(out, resp.Body)
		return errors.Join(err, out.Close())
	}
	if err := save(base+"allocs", slug+".allocs.before.pprof"); err != nil {
		b.logf("pprof: %v", err)
	}
	secs := int(math.Ceil(b.o.d.Seconds()))
	done := make(chan error, 1)
	go func() { done <- save(fmt.Sprintf("%sprofile?seconds=%d", base, secs), slug+".cpu.pprof") }()
	time.Sleep(50 * time.Millisecond) // let the profile start
	r := f()
	if err := <-done; err != nil {
		b.logf("pprof: %v", err)
	}
	for _, p := range []string{"allocs", "mutex", "block"} {
		if err := save(base+p, slug+"."+p+".pprof"); err != nil {
			b.logf("pprof: %v", err)
		}
	}
	return r
}

func slugify(s string) string {
	s = strings.ReplaceAll(s, "/-/", "query interface")
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// pairResult is one measurement of occid and its ceiling, run by run.
type pairResult struct {
	name           string
	lines          int
	single         bool // measured once: one request took longer than -d
	occid, ceiling []loadResult
	// The same GET paced at pacedRate requests per second (loadPaced);
	// empty for requests measured in a closed loop only.
	pacedRate                float64
	pacedOccid, pacedCeiling []loadResult
}

// pacedShare is the share of the ceiling's closed-loop rate at which the
// paced latency measurement sends.
const pacedShare = 0.5

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func each(rs []loadResult, f func(loadResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func (p *pairResult) rates() (occid, ceiling, ratio float64) {
	var ratios []float64
	for i := range p.occid {
		if c := p.ceiling[i].rate(); c > 0 {
			ratios = append(ratios, p.occid[i].rate()/c)
		}
	}
	return median(each(p.occid, loadResult.rate)), median(each(p.ceiling, loadResult.rate)), median(ratios)
}

func pct(p float64) func(loadResult) float64 {
	return func(r loadResult) float64 { return float64(r.percentile(p)) / float64(time.Millisecond) }
}

func (p *pairResult) errors() (n int, first string) {
	for _, r := range append(slices.Clone(p.occid), p.ceiling...) {
		n += r.errors
		if first == "" {
			first = r.firstErr
		}
	}
	return n, first
}
