package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/occiclient"
)

var cmdModel = &command{
	name: "model", args: "[CATEGORY...] [--kinds] [--mixins] [--actions]",
	summary: "show the server's kinds, mixins and actions (discovery); CATEGORY limits it to those categories and their actions",
	maxArgs: -1,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.BoolVar(&o.kinds, "kinds", false, "show kinds")
		fs.BoolVar(&o.mixins, "mixins", false, "show mixins")
		fs.BoolVar(&o.actions, "actions", false, "show actions")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		var filter []occi.CategoryID
		for _, a := range args {
			cat, err := x.client.Category(ctx, a)
			if err != nil {
				return err
			}
			filter = append(filter, cat.ID())
		}
		d, err := x.client.Discover(ctx, filter)
		if err != nil {
			return err
		}
		if x.o.kinds || x.o.mixins || x.o.actions {
			if !x.o.kinds {
				d.Kinds = nil
			}
			if !x.o.mixins {
				d.Mixins = nil
			}
			if !x.o.actions {
				d.Actions = nil
			}
		}
		return x.printDiscovery(d)
	},
}

var cmdList = &command{
	name: "list", args: "[KIND|MIXIN|PATH] [--attr NAME=VALUE]... [--page N --number N]",
	summary: "list the entities of a kind or mixin collection (by term, type identifier or path), or of a path such as /",
	maxArgs: 1,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.Var(&o.attrs, "attr", "keep only entities whose attribute NAME equals VALUE (repeatable)")
		fs.IntVar(&o.page, "page", 0, "page to show, from 1 (with --number)")
		fs.IntVar(&o.number, "number", 0, "entities per page (default: the server's)")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		target := "/"
		if len(args) == 1 {
			target = args[0]
		}
		coll, err := x.client.Collection(ctx, target)
		if err != nil {
			return err
		}
		if x.o.page < 0 || x.o.number < 0 {
			return usageErrorf("--page and --number must not be negative")
		}
		q := occi.ListQuery{Collection: coll, Page: x.o.page, Number: x.o.number}
		if q.Attributes, err = x.client.Attributes(ctx, x.o.attrs); err != nil {
			return err
		}
		es, err := x.client.List(ctx, q)
		if err != nil {
			return err
		}
		return x.printEntities(es)
	},
}

var cmdDescribe = &command{
	name: "describe", args: "LOCATION...",
	summary: "show entities in full: kind, mixins, attributes, links, actions",
	minArgs: 1, maxArgs: -1,
	run: func(ctx context.Context, x *execution, args []string) error {
		var es []*occi.Entity
		for _, a := range args {
			e, err := x.client.Describe(ctx, a)
			if err != nil {
				return err
			}
			es = append(es, e)
		}
		if len(es) == 1 || x.g.Output == "table" || x.g.Quiet {
			for i, e := range es {
				if i > 0 && !x.g.Quiet {
					fmt.Fprintln(x.stdout)
				}
				if err := x.printEntity(e); err != nil {
					return err
				}
			}
			return nil
		}
		if x.g.Output == "text" {
			for i, e := range es {
				if i > 0 {
					fmt.Fprintln(x.stdout)
				}
				if err := x.printEntity(e); err != nil {
					return err
				}
			}
			return nil
		}
		return x.printEntities(es)
	},
}

// linkSpec reads --link KIND:TARGET[,NAME=VALUE|mixin=MIXIN...]; KIND is a
// term or a type identifier, TARGET a path or a URL.
func linkSpec(s string) (kind, target string, mixins, attrs []string, err error) {
	rest := s
	start := 0
	if i := strings.IndexByte(s, '#'); i >= 0 {
		start = i
	}
	i := strings.IndexByte(s[start:], ':')
	if i < 0 {
		return "", "", nil, nil, usageErrorf("--link %q: want KIND:TARGET[,NAME=VALUE...], e.g. networkinterface:/network/ID", s)
	}
	kind, rest = s[:start+i], s[start+i+1:]
	parts := strings.Split(rest, ",")
	target = parts[0]
	if kind == "" || target == "" {
		return "", "", nil, nil, usageErrorf("--link %q: want KIND:TARGET[,NAME=VALUE...], e.g. networkinterface:/network/ID", s)
	}
	for _, p := range parts[1:] {
		if m, ok := strings.CutPrefix(p, "mixin="); ok {
			mixins = append(mixins, m)
			continue
		}
		if !strings.Contains(p, "=") {
			return "", "", nil, nil, usageErrorf("--link %q: %q is not NAME=VALUE", s, p)
		}
		attrs = append(attrs, p)
	}
	return kind, target, mixins, attrs, nil
}

// mixinIDs resolves mixin names (terms or type identifiers).
func (x *execution) mixinIDs(ctx context.Context, names []string) ([]occi.CategoryID, error) {
	var ids []occi.CategoryID
	for _, n := range names {
		m, err := x.client.Mixin(ctx, n)
		if err != nil {
			return nil, err
		}
		ids = append(ids, m.ID)
	}
	return ids, nil
}

func entityFlags(fs *flag.FlagSet, o *cmdOpts) {
	fs.Var(&o.attrs, "attr", "attribute NAME=VALUE (repeatable); VALUE is typed as the server defines NAME: 2, 1.5, true, \"text\", [1,2], null")
	fs.Var(&o.mixinIDs, "mixin", "mixin to add, by term or type identifier (repeatable)")
	fs.StringVar(&o.title, "title", "", "title (occi.core.title)")
	fs.StringVar(&o.summary, "summary", "", "summary (occi.core.summary)")
}

var cmdCreate = &command{
	name: "create", args: "KIND [--os-tpl T] [--resource-tpl T] [--title T] [--attr NAME=VALUE]... [--mixin M]... [--link KIND:TARGET[,NAME=VALUE]]... [--source S --target T]",
	summary: "create a compute, storage, network, or a networkinterface or storagelink (with --source and --target)",
	minArgs: 1, maxArgs: 1,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		entityFlags(fs, o)
		fs.StringVar(&o.osTpl, "os-tpl", "", "OS template, by term or type identifier (compute)")
		fs.StringVar(&o.resTpl, "resource-tpl", "", "resource template, by term or type identifier (compute)")
		fs.Var(&o.links, "link", "inline link KIND:TARGET[,NAME=VALUE][,mixin=M]... (repeatable), e.g. networkinterface:/network/ID")
		fs.StringVar(&o.source, "source", "", "source resource of a link")
		fs.StringVar(&o.target, "target", "", "target of a link (a location or any URI)")
		fs.StringVar(&o.id, "id", "", "identifier to ask for (occi.core.id)")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		k, err := x.client.Kind(ctx, args[0])
		if err != nil {
			return err
		}
		e := &occi.Entity{Kind: k.ID, Title: x.o.title, Summary: x.o.summary, ID: x.o.id}
		if x.o.osTpl != "" {
			m, err := x.client.Template(ctx, x.o.osTpl, occiclient.OSTemplate)
			if err != nil {
				return err
			}
			e.Mixins = append(e.Mixins, m.ID)
		}
		if x.o.resTpl != "" {
			m, err := x.client.Template(ctx, x.o.resTpl, occiclient.ResourceTemplate)
			if err != nil {
				return err
			}
			e.Mixins = append(e.Mixins, m.ID)
		}
		ms, err := x.mixinIDs(ctx, x.o.mixinIDs)
		if err != nil {
			return err
		}
		e.Mixins = append(e.Mixins, ms...)
		if e.Attributes, err = x.client.Attributes(ctx, x.o.attrs); err != nil {
			return err
		}
		if x.o.source != "" || x.o.target != "" {
			if x.o.source == "" || x.o.target == "" {
				return usageErrorf("a link needs both --source and --target")
			}
			e.Source, e.Target = x.o.source, x.o.target
		}
		for _, spec := range x.o.links {
			lk, target, lmixins, lattrs, err := linkSpec(spec)
			if err != nil {
				return err
			}
			kind, err := x.client.Kind(ctx, lk)
			if err != nil {
				return err
			}
			l := &occi.Entity{Kind: kind.ID, Target: target}
			if l.Mixins, err = x.mixinIDs(ctx, lmixins); err != nil {
				return err
			}
			if l.Attributes, err = x.client.Attributes(ctx, lattrs); err != nil {
				return err
			}
			e.Links = append(e.Links, l)
		}
		out, err := x.client.CreateEntity(ctx, e)
		if err != nil {
			return err
		}
		return x.printEntity(out)
	},
}

var cmdUpdate = &command{
	name: "update", args: "LOCATION [--attr NAME=VALUE]... [--mixin M]... [--title T] [--summary S]",
	summary: "change attributes, title or summary of an entity, or add mixins to it (NAME=null unsets)",
	minArgs: 1, maxArgs: 1,
	setFlags: entityFlags,
	run: func(ctx context.Context, x *execution, args []string) error {
		patch := &occi.Entity{Title: x.o.title, Summary: x.o.summary}
		var err error
		if patch.Mixins, err = x.mixinIDs(ctx, x.o.mixinIDs); err != nil {
			return err
		}
		if patch.Attributes, err = x.client.Attributes(ctx, x.o.attrs); err != nil {
			return err
		}
		if patch.Title == "" && patch.Summary == "" && len(patch.Mixins) == 0 && len(patch.Attributes) == 0 {
			return usageErrorf("nothing to update: give --attr, --mixin, --title or --summary")
		}
		out, err := x.client.Modify(ctx, args[0], patch)
		if err != nil {
			return err
		}
		return x.printEntity(out)
	},
}

var cmdDelete = &command{
	name: "delete", args: "LOCATION...",
	summary: "delete entities (deleting a resource deletes its links)",
	minArgs: 1, maxArgs: -1,
	run: func(ctx context.Context, x *execution, args []string) error {
		for _, a := range args {
			if err := x.client.Remove(ctx, a); err != nil {
				return err
			}
			if err := x.printDone("deleted", []string{a}); err != nil {
				return err
			}
		}
		return nil
	},
}

var cmdAction = &command{
	name: "action", args: "LOCATION ACTION [--method M] [--attr NAME=VALUE]...",
	summary: "run an action on an entity: start, stop, restart, suspend (compute), up, down (network), online, offline (storage)",
	minArgs: 2, maxArgs: 2,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.StringVar(&o.method, "method", "", "the action's method parameter, e.g. graceful, acpioff, poweroff, warm, cold, hibernate")
		fs.Var(&o.attrs, "attr", "action parameter NAME=VALUE (repeatable)")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		params := occi.Attributes{}
		for _, p := range x.o.attrs {
			name, v, err := occiclient.ParseAttribute(p)
			if err != nil {
				return err
			}
			params[name] = v
		}
		if x.o.method != "" {
			params["method"] = x.o.method
		}
		if len(params) == 0 {
			params = nil
		}
		res, err := x.client.Act(ctx, args[0], args[1], params)
		if err != nil {
			return err
		}
		if res.Mixin != nil {
			return x.printMixin(res.Mixin, nil)
		}
		return x.printEntity(res.Entity)
	},
}

var cmdSave = &command{
	name: "save", args: "LOCATION [--name N] [--method hot|deferred] [--wait]",
	summary: "save a compute as a new OS template; with --wait, show progress until the template is ready",
	minArgs: 1, maxArgs: 1,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.StringVar(&o.name, "name", "", "title of the new template (the server makes one up if empty)")
		fs.StringVar(&o.method, "method", "", "hot (keep the compute running) or deferred")
		fs.BoolVar(&o.wait, "wait", false, "wait until the template is ready, showing progress on stderr")
		fs.StringVar(&o.interval, "interval", "1s", "how often to look at the template while waiting")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		interval, err := time.ParseDuration(x.o.interval)
		if err != nil || interval <= 0 {
			return usageErrorf("--interval %q: want a positive duration such as 1s", x.o.interval)
		}
		m, err := x.client.Save(ctx, args[0], x.o.name, x.o.method)
		if err != nil {
			return err
		}
		if !x.o.wait {
			// Show the template as discovery has it (in JSON, with its
			// state), or as the save answered if discovery cannot.
			if dm, st, err := x.client.TemplateStatus(ctx, m.ID); err == nil {
				if dm.Location == "" {
					dm.Location = m.Location
				}
				return x.printMixin(dm, &st)
			}
			return x.printMixin(m, nil)
		}
		p := newProgress(x.stderr, x.stderrTTY, "saving "+m.ID.Term)
		ready, err := x.client.WaitTemplate(ctx, m.ID, interval, p.update)
		p.done(err)
		if err != nil {
			return err
		}
		_, st, err := x.client.TemplateStatus(ctx, ready.ID)
		if err != nil {
			return err
		}
		// Keep the location and title of the save answer if discovery
		// in a text rendering lost them.
		if ready.Location == "" {
			ready.Location = m.Location
		}
		return x.printMixin(ready, &st)
	},
}

// progress shows a template's progress on stderr: redrawn in place on a
// terminal, one line per change otherwise.
type progress struct {
	w     interface{ Write([]byte) (int, error) }
	tty   bool
	label string
	last  string
	start time.Time
	spin  int
}

func newProgress(w interface{ Write([]byte) (int, error) }, tty bool, label string) *progress {
	return &progress{w: w, tty: tty, label: label, start: time.Now()}
}

func (p *progress) line(st occiclient.TemplateStatus) string {
	if !st.Known {
		return p.label + ": the server shows no state; taking the template as ready"
	}
	s := p.label + ": " + st.State
	if st.Progress >= 0 && st.State != "ready" {
		s += fmt.Sprintf(" %d%%", st.Progress)
	}
	if st.Message != "" {
		s += " (" + st.Message + ")"
	}
	return s
}

func (p *progress) update(st occiclient.TemplateStatus) {
	l := p.line(st)
	if p.tty {
		frames := `|/-\`
		p.spin++
		fmt.Fprintf(p.w, "\r\033[K%s %c %s", l, frames[p.spin%len(frames)], time.Since(p.start).Round(time.Second))
		return
	}
	if l != p.last {
		fmt.Fprintln(p.w, l)
		p.last = l
	}
}

func (p *progress) done(err error) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
		if err == nil {
			fmt.Fprintf(p.w, "%s: ready after %s\n", p.label, time.Since(p.start).Round(time.Second))
		}
	}
}

var cmdLink = &command{
	name: "link", args: "SOURCE TARGET --kind networkinterface|storagelink [--attr NAME=VALUE]... [--mixin M]...",
	summary: "link a resource to another (a compute to a network or a storage)",
	minArgs: 2, maxArgs: 2,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.StringVar(&o.kind, "kind", "", "kind of the link: networkinterface, storagelink, or any link kind (required)")
		fs.Var(&o.attrs, "attr", "attribute NAME=VALUE (repeatable)")
		fs.Var(&o.mixinIDs, "mixin", "mixin of the link, e.g. ipnetworkinterface (repeatable)")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		if x.o.kind == "" {
			return usageErrorf("give the link's kind with --kind networkinterface or --kind storagelink")
		}
		ms, err := x.mixinIDs(ctx, x.o.mixinIDs)
		if err != nil {
			return err
		}
		attrs, err := x.client.Attributes(ctx, x.o.attrs)
		if err != nil {
			return err
		}
		l, err := x.client.Link(ctx, x.o.kind, args[0], args[1], ms, attrs)
		if err != nil {
			return err
		}
		return x.printEntity(l)
	},
}

var cmdUnlink = &command{
	name: "unlink", args: "LINK-LOCATION...",
	summary: "delete links (refuses to delete resources)",
	minArgs: 1, maxArgs: -1,
	run: func(ctx context.Context, x *execution, args []string) error {
		for _, a := range args {
			if err := x.client.Unlink(ctx, a); err != nil {
				return err
			}
			if err := x.printDone("deleted", []string{a}); err != nil {
				return err
			}
		}
		return nil
	},
}

var cmdMixin = &command{
	name: "mixin", args: "add MIXIN LOCATION... | remove MIXIN LOCATION... | define TERM [--title T] [--scheme S] | delete TERM|ID",
	summary: "add entities to a mixin, remove them from it, define or delete your own mixins (tags)",
	minArgs: 2, maxArgs: -1,
	setFlags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.StringVar(&o.title, "title", "", "title of a new mixin (define)")
		fs.StringVar(&o.scheme, "scheme", "", "scheme of a new mixin (define; default: your tag scheme)")
	},
	run: func(ctx context.Context, x *execution, args []string) error {
		verb, rest := args[0], args[1:]
		switch verb {
		case "add":
			if len(rest) < 2 {
				return usageErrorf("mixin add MIXIN LOCATION...: name a mixin and at least one entity")
			}
			members, err := x.client.AddMixin(ctx, rest[0], rest[1:]...)
			if err != nil {
				return err
			}
			return x.printEntities(members)
		case "remove":
			if len(rest) < 2 {
				return usageErrorf("mixin remove MIXIN LOCATION...: name a mixin and at least one entity")
			}
			if err := x.client.RemoveMixin(ctx, rest[0], rest[1:]...); err != nil {
				return err
			}
			return x.printDone("removed from "+rest[0]+":", rest[1:])
		case "define":
			if len(rest) != 1 {
				return usageErrorf("mixin define TERM: name exactly one term")
			}
			user := x.g.User
			if user == "" && x.g.Token == "" {
				user = occi.Anonymous.User
			}
			m, err := x.client.DefineTag(ctx, rest[0], x.o.title, x.o.scheme, user)
			if err != nil {
				return err
			}
			return x.printMixin(m, nil)
		case "delete":
			if len(rest) != 1 {
				return usageErrorf("mixin delete TERM|ID: name exactly one mixin")
			}
			if err := x.client.DeleteTag(ctx, rest[0]); err != nil {
				return err
			}
			if x.g.Output == "table" && !x.g.Quiet {
				fmt.Fprintf(x.stdout, "deleted mixin %s\n", rest[0])
			}
			return nil
		}
		return usageErrorf("mixin %s: want add, remove, define or delete", verb)
	},
}

var cmdVersion = &command{
	name: "version", args: "",
	summary:  "print occi's version, and the server's when it answers",
	maxArgs:  0,
	noClient: false,
	run: func(ctx context.Context, x *execution, args []string) error {
		fmt.Fprintf(x.stdout, "occi %s (OCCI/1.2)\n", clientVersion())
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, x.client.Endpoint()+"/-/", nil)
		if err != nil {
			return nil
		}
		resp, err := x.client.HTTPClient().Do(req)
		if err != nil {
			fmt.Fprintf(x.stdout, "server %s: not reachable\n", x.client.Endpoint())
			return nil
		}
		resp.Body.Close()
		srv := resp.Header.Get("Server")
		if srv == "" {
			srv = "unknown (no Server header)"
		}
		fmt.Fprintf(x.stdout, "server %s: %s\n", x.client.Endpoint(), srv)
		return nil
	},
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
