package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/occid/occi"
	"github.com/occid/occi/occiclient"
)

func TestResolvePrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/occi/config", "endpoint = http://file:1\nrendering = occi\ntoken = \"file token\"\n")
	writeFile(t, dir+"/other", "endpoint = http://other:1\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want globals
	}{
		{"defaults", nil, nil, globals{Endpoint: defaultEndpoint, Rendering: "text", Output: "table"}},
		{"file", nil, map[string]string{"HOME_CONFIG": dir},
			globals{Endpoint: "http://file:1", Rendering: "occi", Token: "file token", Output: "table", Config: dir + "/occi/config"}},
		{"env beats file", nil, map[string]string{"HOME_CONFIG": dir, "OCCI_ENDPOINT": "http://env:1", "OCCI_TOKEN": "env"},
			globals{Endpoint: "http://env:1", Rendering: "occi", Token: "env", Output: "table", Config: dir + "/occi/config"}},
		{"flag beats env", []string{"--endpoint", "http://flag:1", "--rendering", "json", "--output", "json"},
			map[string]string{"HOME_CONFIG": dir, "OCCI_ENDPOINT": "http://env:1", "OCCI_RENDERING": "text"},
			globals{Endpoint: "http://flag:1", Rendering: "json", Token: "file token", Output: "json", Config: dir + "/occi/config"}},
		{"an empty flag still wins", []string{"--token", ""}, map[string]string{"OCCI_TOKEN": "env"},
			globals{Endpoint: defaultEndpoint, Rendering: "text", Output: "table"}},
		{"--config", []string{"--config", dir + "/other"}, map[string]string{"HOME_CONFIG": dir},
			globals{Endpoint: "http://other:1", Rendering: "text", Output: "table", Config: dir + "/other"}},
		{"OCCI_CONFIG", nil, map[string]string{"HOME_CONFIG": dir, "OCCI_CONFIG": dir + "/other"},
			globals{Endpoint: "http://other:1", Rendering: "text", Output: "table", Config: dir + "/other"}},
		{"user and password", []string{"--user", "alice"}, map[string]string{"OCCI_PASSWORD": "pw"},
			globals{Endpoint: defaultEndpoint, Rendering: "text", Output: "table", User: "alice", Password: "pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveArgs(tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Timeout = 5 * time.Minute
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/bad", "endpoint http://x\n")
	writeFile(t, dir+"/unknown", "colour = red\n")
	writeFile(t, dir+"/twice", "endpoint = a\nendpoint = b\n")
	for _, tc := range []struct {
		name, want string
		args       []string
		env        map[string]string
	}{
		{"missing named file", "none", []string{"--config", dir + "/none"}, nil},
		{"missing OCCI_CONFIG file", "none", nil, map[string]string{"OCCI_CONFIG": dir + "/none"}},
		{"no equals", "line 1: want key = value", []string{"--config", dir + "/bad"}, nil},
		{"unknown key", `unknown key "colour"`, []string{"--config", dir + "/unknown"}, nil},
		{"key twice", `key "endpoint" appears twice`, []string{"--config", dir + "/twice"}, nil},
		{"bad output", `output "yaml"`, []string{"--output", "yaml"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveArgs(tc.args, tc.env)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want a usage error mentioning %q", err, tc.want)
			}
		})
	}
}

// resolveArgs parses global flags and resolves them with env, whose
// HOME_CONFIG is the configuration directory.
func resolveArgs(args []string, env map[string]string) (*globals, error) {
	var fv flagValues
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, &fv)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fv.record(fs)
	return fv.resolve(func(k string) string { return env[k] }, func() (string, error) { return env["HOME_CONFIG"], nil })
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantPos []string
		wantA   string
	}{
		{[]string{"x", "--a", "1", "y"}, []string{"x", "y"}, "1"},
		{[]string{"--a", "1", "x"}, []string{"x"}, "1"},
		{[]string{"x", "y", "--a=2"}, []string{"x", "y"}, "2"},
		{[]string{"x", "--", "--a", "3"}, []string{"x", "--a", "3"}, ""},
		{nil, nil, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			a := fs.String("a", "", "")
			pos, err := parseInterleaved(fs, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantPos, pos); diff != "" || *a != tc.wantA {
				t.Errorf("got %v and --a %q, want %v and %q", pos, *a, tc.wantPos, tc.wantA)
			}
		})
	}
}

func TestLinkSpec(t *testing.T) {
	for _, tc := range []struct {
		in            string
		kind, target  string
		mixins, attrs []string
		wantErr       bool
	}{
		{in: "networkinterface:/network/1", kind: "networkinterface", target: "/network/1"},
		{in: "storagelink:http://h:8080/storage/1,occi.storagelink.deviceid=vdb", kind: "storagelink",
			target: "http://h:8080/storage/1", attrs: []string{"occi.storagelink.deviceid=vdb"}},
		{in: "http://schemas.ogf.org/occi/infrastructure#networkinterface:/network/1,mixin=ipnetworkinterface,a=1",
			kind: "http://schemas.ogf.org/occi/infrastructure#networkinterface", target: "/network/1",
			mixins: []string{"ipnetworkinterface"}, attrs: []string{"a=1"}},
		{in: "nocolon", wantErr: true},
		{in: ":/network/1", wantErr: true},
		{in: "networkinterface:", wantErr: true},
		{in: "networkinterface:/n/1,novalue", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			kind, target, mixins, attrs, err := linkSpec(tc.in)
			if tc.wantErr {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Errorf("got %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{kind, target, mixins, attrs}
			want := []any{tc.kind, tc.target, tc.mixins, tc.attrs}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("linkSpec(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// serverError is an error as occihttp.Client reports an answer.
func serverError(c occi.Code) error { return &occi.Error{Code: c, Message: "said the server"} }

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"usage", usageErrorf("bad"), exitUsage},
		{"help", flag.ErrHelp, exitUsage},
		{"checks failed", errChecksFailed, exitChecksFailed},
		{"400", serverError(occi.InvalidArgument), exitRejected},
		{"405", serverError(occi.MethodNotAllowed), exitRejected},
		{"413", serverError(occi.TooLarge), exitRejected},
		{"404", serverError(occi.NotFound), exitNotFound},
		{"409 exists", serverError(occi.AlreadyExists), exitConflict},
		{"409 conflict", serverError(occi.Conflict), exitConflict},
		{"409 state", serverError(occi.FailedPrecondition), exitConflict},
		{"412", serverError(occi.PreconditionFailed), exitConflict},
		{"401", serverError(occi.Unauthenticated), exitAuth},
		{"403", serverError(occi.PermissionDenied), exitAuth},
		{"500", serverError(occi.Internal), exitServer},
		{"501", serverError(occi.Unimplemented), exitServer},
		{"503", serverError(occi.Unavailable), exitServer},
		{"unreachable", occi.Wrap(errors.New("connection refused"), occi.Unavailable, "GET /-/ failed"), exitServer},
		{"plain error", errors.New("boom"), exitServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v): got %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestDescribeError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{serverError(occi.NotFound), "said the server (404 Not Found)"},
		{serverError(occi.FailedPrecondition), "said the server (409 Conflict)"},
		{occi.Wrap(errors.New("dial tcp: connection refused"), occi.Unavailable, "GET /-/ failed"), "GET /-/ failed: dial tcp: connection refused"},
	} {
		if got := describeError(tc.err); got != tc.want {
			t.Errorf("describeError(%v): got %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRunner(t *testing.T) {
	var out strings.Builder
	r := &runner{out: &out}
	root := r.root()
	var order []string
	root.run("group", func(c *check) {
		c.Cleanup(func() { order = append(order, "group cleanup") })
		c.run("passes", func(c *check) {
			c.Cleanup(func() { order = append(order, "passes cleanup 1") })
			c.Cleanup(func() { order = append(order, "passes cleanup 2") })
		})
		c.run("fails", func(c *check) {
			c.Errorf("first\nproblem")
			c.Errorf("second")
		})
		c.run("fatal", func(c *check) {
			c.Fatalf("stop here")
			order = append(order, "after Fatalf")
		})
		c.run("skips", func(c *check) { c.Skipf("not today") })
		c.run("panics", func(c *check) { panic("oops") })
		c.run("nested", func(c *check) {
			c.run("leaf", func(c *check) {})
		})
		order = append(order, fmt.Sprintf("group failed %v", c.Failed()))
	})
	root.run("own failure", func(c *check) {
		c.run("leaf", func(c *check) {})
		c.Errorf("the group's own check")
	})
	want := `PASS group/passes
FAIL group/fails: first problem; second
FAIL group/fatal: stop here
SKIP group/skips: not today
FAIL group/panics: panic: oops
PASS group/nested/leaf
PASS own failure/leaf
FAIL own failure: the group's own check
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if r.passed != 3 || r.failed != 4 || r.skip != 1 {
		t.Errorf("counts: got %d passed %d failed %d skipped, want 3, 4, 1", r.passed, r.failed, r.skip)
	}
	wantOrder := []string{"passes cleanup 2", "passes cleanup 1", "group failed true", "group cleanup"}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestRunnerFilter(t *testing.T) {
	var out strings.Builder
	filter, err := compileFilter("^Create$/^compute")
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{out: &out, filter: filter}
	root := r.root()
	for _, g := range []string{"Create", "Discovery"} {
		root.run(g, func(c *check) {
			c.run("compute defaults", func(c *check) {})
			c.run("title", func(c *check) {})
		})
	}
	if got, want := out.String(), "PASS Create/compute defaults\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := compileFilter("(("); err == nil {
		t.Errorf("compileFilter((( ): got nil error")
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"--help"}, exitOK, "Exit codes:", ""},
		{nil, exitUsage, "Usage: occi", ""},
		{[]string{"help", "save"}, exitOK, "--wait", ""},
		{[]string{"save", "--help"}, exitOK, "Usage: occi save", ""},
		{[]string{"help", "nope"}, exitUsage, "", "unknown command"},
		{[]string{"list", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"describe"}, exitUsage, "", "want arguments LOCATION..."},
		{[]string{"list", "--endpoint", "ftp://x"}, exitUsage, "", "want an absolute http or https URL"},
		{[]string{"list", "--rendering", "xml"}, exitUsage, "", `rendering "xml"`},
		{[]string{"selftest", "--run", "(("}, exitUsage, "", "--run"},
		{[]string{"selftest", "--names", "carol"}, exitUsage, "", "--names"},
		{[]string{"selftest", "--names", "a,b,c"}, exitUsage, "", "--names"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cli(t, map[string]string{}, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("got %s\nwant exit %d, stdout with %q, stderr with %q", r, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProgress(t *testing.T) {
	steps := []occiclient.TemplateStatus{
		{Known: true, State: "saving", Progress: 0, Message: "copying disk"},
		{Known: true, State: "saving", Progress: 0, Message: "copying disk"},
		{Known: true, State: "saving", Progress: 75, Message: "copying disk"},
		{Known: true, State: "ready", Progress: 100},
	}
	t.Run("lines", func(t *testing.T) {
		var b strings.Builder
		p := newProgress(&b, false, "saving web")
		for _, s := range steps {
			p.update(s)
		}
		p.done(nil)
		want := "saving web: saving 0% (copying disk)\nsaving web: saving 75% (copying disk)\nsaving web: ready\n"
		if got := b.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		var b strings.Builder
		p := newProgress(&b, true, "saving web")
		for _, s := range steps {
			p.update(s)
		}
		p.done(nil)
		got := b.String()
		if n := strings.Count(got, "\r\033[K"); n != len(steps)+1 {
			t.Errorf("got %d redraws, want %d: %q", n, len(steps)+1, got)
		}
		if !strings.HasSuffix(got, "\r\033[Ksaving web: ready after 0s\n") {
			t.Errorf("last line: got %q, want it to end with the ready line", got)
		}
	})
	t.Run("no state", func(t *testing.T) {
		var b strings.Builder
		newProgress(&b, false, "saving web").update(occiclient.TemplateStatus{Progress: -1})
		if got := b.String(); !strings.Contains(got, "shows no state") {
			t.Errorf("got %q, want a note that the server shows no state", got)
		}
	})
}

// TestGlobalFlagsBeforeTheCommand checks that global flags given before the
// command survive the command's own flag set, which registers them again
// (a new user found --endpoint, --token, --output and -q silently lost).
func TestGlobalFlagsBeforeTheCommand(t *testing.T) {
	var fv flagValues
	top := flag.NewFlagSet("occi", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	addGlobalFlags(top, &fv)
	if err := top.Parse([]string{"--endpoint", "http://127.0.0.1:9/", "--token", "T0K", "--output", "json", "-q", "--timeout", "7s"}); err != nil {
		t.Fatal(err)
	}
	fv.record(top)
	cmd := flag.NewFlagSet("list", flag.ContinueOnError)
	cmd.SetOutput(io.Discard)
	addGlobalFlags(cmd, &fv)
	if err := cmd.Parse([]string{"--rendering", "json"}); err != nil {
		t.Fatal(err)
	}
	fv.record(cmd)
	g, err := fv.resolve(func(string) string { return "" }, func() (string, error) { return t.TempDir(), nil })
	if err != nil {
		t.Fatal(err)
	}
	want := globals{Endpoint: "http://127.0.0.1:9/", Token: "T0K", Output: "json", Rendering: "json", Quiet: true, Timeout: 7 * time.Second}
	got := globals{Endpoint: g.Endpoint, Token: g.Token, Output: g.Output, Rendering: g.Rendering, Quiet: g.Quiet, Timeout: g.Timeout}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
