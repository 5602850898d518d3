package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report collects a run's results and prints them as Markdown tables.
type report struct {
	o        options
	store    string
	started  time.Time
	elapsed  time.Duration
	bulkN    int
	bulkTime time.Duration

	gets, creates, scale []*pairResult

	rssStart           int64
	rssScale, hwmScale int64
	rssEnd, hwmEnd     int64
}

// Targets of issue 10.
const (
	targetGetEntity = 0.60
	targetGetQuery  = 0.80
	targetCreate    = 0.50
	targetPageMS    = 5.0
	targetURIListMS = 100.0
	targetRSSMB     = 300.0
	targetP99MS     = 10.0
)

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (r *report) print(w io.Writer) {
	o := r.o
	fmt.Fprintf(w, "\n## occibench, %s\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "%d CPUs, %s, store %s, backend sim://?delay=0&memory=true; load average at the end %s; "+
		"medians of %d runs of %v per throughput measurement; whole run %v.\n\n",
		runtime.NumCPU(), runtime.Version(), r.store, loadAverage(), o.runs, o.d, r.elapsed.Round(time.Second))

	if len(r.gets) > 0 {
		fmt.Fprintf(w, "### GET, %d connections (closed loop), against a net/http server replaying the same response\n\n", o.conns)
		fmt.Fprintln(w, "| request | occid req/s | ceiling req/s | ratio | target | occid p50 / p99 | ceiling p50 / p99 | server CPU per request, occid / ceiling |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|---:|---:|---:|")
		for _, g := range r.gets {
			oc, ce, ratio := g.rates()
			target := targetGetEntity
			if strings.Contains(g.name, "/-/") {
				target = targetGetQuery
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f %% | ≥ %.0f %%: %s | %.2f / %.2f ms | %.2f / %.2f ms | %.0f / %.0f µs |\n",
				g.name, oc, ce, 100*ratio, 100*target, verdict(ratio >= target),
				median(each(g.occid, pct(50))), median(each(g.occid, pct(99))),
				median(each(g.ceiling, pct(50))), median(each(g.ceiling, pct(99))),
				median(each(g.occid, cpuMicros)), median(each(g.ceiling, cpuMicros)))
		}
		fmt.Fprintln(w)
		for _, g := range r.gets {
			if !strings.Contains(g.name, "compute") {
				continue
			}
			p99 := median(each(g.occid, pct(99)))
			fmt.Fprintf(w, "- p99 of %s at %d connections, closed loop (as fast as they go): %.2f ms, the ceiling %.2f ms (target < %.0f ms: %s)\n",
				g.name, o.conns, p99, median(each(g.ceiling, pct(99))), targetP99MS, verdict(p99 < targetP99MS))
			if len(g.pacedOccid) > 0 {
				pp99 := median(each(g.pacedOccid, pct(99)))
				fmt.Fprintf(w, "- p99 of %s at %d connections paced at %.0f req/s (%.0f %% of the ceiling's closed-loop rate; latency from each request's scheduled time): "+
					"%.2f ms (p50 %.2f), the ceiling %.2f ms (p50 %.2f); occid answered %.0f req/s (target < %.0f ms: %s)\n",
					g.name, o.conns, g.pacedRate, 100*pacedShare, pp99, median(each(g.pacedOccid, pct(50))),
					median(each(g.pacedCeiling, pct(99))), median(each(g.pacedCeiling, pct(50))),
					median(each(g.pacedOccid, loadResult.rate)), targetP99MS, verdict(pp99 < targetP99MS))
			}
		}
		fmt.Fprintln(w)
	}
	if len(r.creates) > 0 {
		fmt.Fprintln(w, "### Create (durable), against raw inserts of the same rows with the same durability settings")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| measurement | occid creates/s | raw inserts/s | ratio | target | occid p50 / p99 | raw p50 / p99 |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|---:|---:|")
		for _, c := range r.creates {
			oc, ce, ratio := c.rates()
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f %% | ≥ %.0f %%: %s | %.2f / %.2f ms | %.2f / %.2f ms |\n",
				c.name, oc, ce, 100*ratio, 100*targetCreate, verdict(ratio >= targetCreate),
				median(each(c.occid, pct(50))), median(each(c.occid, pct(99))),
				median(each(c.ceiling, pct(50))), median(each(c.ceiling, pct(99))))
		}
		fmt.Fprintln(w)
	}
	if len(r.scale) > 0 {
		fmt.Fprintf(w, "### %d computes (%d bulk-loaded through the store in %v), one connection\n\n", o.entities, r.bulkN, r.bulkTime.Round(time.Millisecond))
		fmt.Fprintln(w, "| measurement | occid p50 | occid p99 | ceiling p50 (same bytes) | response size | target |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
		for _, s := range r.scale {
			p50 := median(each(s.occid, pct(50)))
			target, limit := "", 0.0
			if s.lines > 0 {
				limit = targetURIListMS
			} else {
				limit = targetPageMS
			}
			target = fmt.Sprintf("< %.0f ms: %s", limit, verdict(p50 < limit))
			size := 0.0
			if len(s.occid) > 0 && s.occid[0].requests > 0 {
				size = float64(s.occid[0].bytes) / float64(s.occid[0].requests)
			}
			name := s.name
			if s.single {
				name += " (one request: too slow to repeat)"
			}
			fmt.Fprintf(w, "| %s | %.2f ms | %.2f ms | %.2f ms | %s | %s |\n", name, p50,
				median(each(s.occid, pct(99))), median(each(s.ceiling, pct(50))), bytesString(size), target)
		}
		fmt.Fprintf(w, "| resident memory after the scale measurements (VmRSS) | %.0f MB | | | | < %.0f MB: %s |\n",
			mb(r.rssScale), targetRSSMB, verdict(mb(r.rssScale) < targetRSSMB))
		fmt.Fprintf(w, "| peak resident memory over the whole run (VmHWM) | %.0f MB | | | | < %.0f MB: %s |\n",
			mb(r.hwmEnd), targetRSSMB, verdict(mb(r.hwmEnd) < targetRSSMB))
	}
	fmt.Fprintf(w, "\nResident memory at start %.0f MB, at the end %.0f MB.\n", mb(r.rssStart), mb(r.rssEnd))

	var errs []string
	for _, p := range append(append(append([]*pairResult{}, r.gets...), r.creates...), r.scale...) {
		if n, first := p.errors(); n > 0 {
			errs = append(errs, fmt.Sprintf("- %s: %d failed requests, first: %s", p.name, n, first))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nFailures (they do not count in the figures):\n%s\n", strings.Join(errs, "\n"))
	}
}

func cpuMicros(r loadResult) float64 { return float64(r.cpuPerRequest()) / float64(time.Microsecond) }

func bytesString(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
