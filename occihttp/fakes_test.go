package occihttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// ---- a fake codec: JSON of the occi types, with absolute locations ----

const fakeType = "application/x-fake"

type fakeCodec struct{}

func (fakeCodec) MediaType() string { return fakeType }
func (fakeCodec) Aliases() []string { return []string{"application/x-fake-alias"} }

func abs(base, loc string) string {
	if strings.HasPrefix(loc, "/") {
		return base + loc
	}
	return loc
}

func rel(base, loc string) string {
	if base != "" {
		if p, ok := strings.CutPrefix(loc, base); ok && strings.HasPrefix(p, "/") {
			return p
		}
	}
	return loc
}

func writeJSON(w *render.Writer, v any) error {
	w.Header.Set("Content-Type", fakeType)
	return json.NewEncoder(w.Body).Encode(v)
}

func readJSON(r *render.Reader, v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return occi.Errorf(occi.InvalidArgument, "fake: bad body: %v", err)
	}
	return nil
}

func (fakeCodec) EncodeDiscovery(w *render.Writer, d *occi.Discovery) error { return writeJSON(w, d) }
func (fakeCodec) EncodeEntity(w *render.Writer, e *occi.Entity) error {
	c := e.Clone()
	c.Location = abs(w.Base, c.Location)
	return writeJSON(w, c)
}
func (fakeCodec) EncodeCollection(w *render.Writer, es []*occi.Entity) error {
	out := make([]*occi.Entity, len(es))
	for i, e := range es {
		out[i] = e.Clone()
		out[i].Location = abs(w.Base, e.Location)
	}
	return writeJSON(w, out)
}
func (fakeCodec) EncodeLocations(w *render.Writer, locs []string) error {
	out := make([]string, len(locs))
	for i, l := range locs {
		out[i] = abs(w.Base, l)
	}
	return writeJSON(w, out)
}
func (fakeCodec) EncodeMixin(w *render.Writer, m *occi.Mixin) error { return writeJSON(w, m) }
func (fakeCodec) EncodeError(w *render.Writer, code occi.Code, msg string) error {
	return writeJSON(w, map[string]string{"code": code.String(), "message": msg})
}
func (fakeCodec) EncodeAction(w *render.Writer, inv *occi.ActionInvocation) error {
	return writeJSON(w, inv)
}
func (fakeCodec) DecodeEntity(r *render.Reader) (*occi.Entity, error) {
	var e occi.Entity
	if err := readJSON(r, &e); err != nil {
		return nil, err
	}
	e.Location = rel(r.Base, e.Location)
	return &e, nil
}
func (fakeCodec) DecodeEntities(r *render.Reader) ([]*occi.Entity, error) {
	var es []*occi.Entity
	if strings.HasPrefix(strings.TrimSpace(string(r.Body)), "{") {
		var e occi.Entity
		if err := readJSON(r, &e); err != nil {
			return nil, err
		}
		es = []*occi.Entity{&e}
	} else if err := readJSON(r, &es); err != nil {
		return nil, err
	}
	for _, e := range es {
		e.Location = rel(r.Base, e.Location)
	}
	return es, nil
}
func (fakeCodec) DecodeAction(r *render.Reader) (*occi.ActionInvocation, error) {
	var inv occi.ActionInvocation
	return &inv, readJSON(r, &inv)
}
func (fakeCodec) DecodeMixins(r *render.Reader) ([]*occi.Mixin, error) {
	if strings.Contains(string(r.Body), `"Kinds"`) {
		var d occi.Discovery
		if err := readJSON(r, &d); err != nil {
			return nil, err
		}
		return d.Mixins, nil
	}
	var m occi.Mixin
	if err := readJSON(r, &m); err != nil {
		return nil, err
	}
	return []*occi.Mixin{&m}, nil
}
func (fakeCodec) DecodeLocations(r *render.Reader) ([]string, error) {
	var locs []string
	if err := readJSON(r, &locs); err != nil {
		return nil, err
	}
	for i, l := range locs {
		locs[i] = rel(r.Base, l)
	}
	return locs, nil
}
func (fakeCodec) DecodeDiscovery(r *render.Reader) (*occi.Discovery, error) {
	var d occi.Discovery
	return &d, readJSON(r, &d)
}
func (fakeCodec) DecodeError(r *render.Reader) (occi.Code, string, error) {
	var m map[string]string
	if err := readJSON(r, &m); err != nil {
		return occi.Internal, string(r.Body), nil
	}
	return codeByName[m["code"]], m["message"], nil
}

// DecodeFilter reads "Category: <type id>" and "X-OCCI-Attribute: k=v"
// headers.
func (fakeCodec) DecodeFilter(r *render.Reader) ([]occi.CategoryID, occi.Attributes, error) {
	var cats []occi.CategoryID
	for _, v := range r.Header.Values("Category") {
		id, err := occi.ParseCategoryID(v)
		if err != nil {
			return nil, nil, err
		}
		cats = append(cats, id)
	}
	var attrs occi.Attributes
	for _, v := range r.Header.Values("X-OCCI-Attribute") {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return nil, nil, occi.Errorf(occi.InvalidArgument, "fake: bad attribute filter %q", v)
		}
		if attrs == nil {
			attrs = occi.Attributes{}
		}
		attrs[k] = typedValue(val)
	}
	return cats, attrs, nil
}

// listOnly renders only listings, like text/uri-list.
type listOnly struct{ fakeCodec }

func (listOnly) MediaType() string { return "text/x-list" }
func (listOnly) Aliases() []string { return nil }
func (listOnly) EncodeEntity(*render.Writer, *occi.Entity) error {
	return occi.Errorf(occi.InvalidArgument, "text/x-list renders listings only")
}
func (listOnly) EncodeDiscovery(*render.Writer, *occi.Discovery) error {
	return occi.Errorf(occi.InvalidArgument, "text/x-list renders listings only")
}
func (listOnly) EncodeError(*render.Writer, occi.Code, string) error {
	return occi.Errorf(occi.InvalidArgument, "text/x-list renders listings only")
}

// fakeNegotiator matches exact media types; "" and "*/*" select the first
// codec; an Accept list is tried in order.
type fakeNegotiator struct{ codecs []render.Codec }

func (n fakeNegotiator) find(mt string) render.Codec {
	mt = strings.TrimSpace(strings.ToLower(strings.Split(mt, ";")[0]))
	for _, c := range n.codecs {
		if c.MediaType() == mt || slices.Contains(c.Aliases(), mt) {
			return c
		}
	}
	return nil
}

func (n fakeNegotiator) ForResponse(accept string) (render.Codec, error) {
	if strings.TrimSpace(accept) == "" {
		return n.codecs[0], nil
	}
	for _, a := range strings.Split(accept, ",") {
		if strings.TrimSpace(a) == "*/*" {
			return n.codecs[0], nil
		}
		if c := n.find(a); c != nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("406")
}

func (n fakeNegotiator) ForRequest(ct string) (render.Codec, error) {
	if c := n.find(ct); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("415")
}

func (n fakeNegotiator) Offered() []string {
	var out []string
	for _, c := range n.codecs {
		out = append(out, c.MediaType())
		out = append(out, c.Aliases()...)
	}
	return out
}

var testNegotiator = fakeNegotiator{codecs: []render.Codec{fakeCodec{}, listOnly{}}}

// ---- a fake service ----

var (
	kindCompute = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure#", Term: "compute"}
	mixinTag    = occi.CategoryID{Scheme: "http://example.org/tags#", Term: "web"}
	actionStart = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute/action#", Term: "start"}
	actionSave  = occi.CategoryID{Scheme: "http://schemas.ogf.org/occi/infrastructure/compute/action#", Term: "save"}
)

// call records one service call as the handler made it.
type call struct {
	Op       string
	Path     string
	Arg      any
	Revision int64 // the expected revision in ctx, 0 if none
	// MustNotExist is whether ctx asks a Put to create only.
	MustNotExist bool
}

// fakeService is a tiny OCCI service: one kind (/compute/), one mixin
// (/tags/web/), entities in a map. Hook, when set, may fail any operation.
type fakeService struct {
	mu       sync.Mutex
	entities map[string]*occi.Entity
	members  map[string]bool
	mixins   map[occi.CategoryID]*occi.Mixin
	calls    []call
	next     int
	hook     func(op, path string) error
}

func newFakeService() *fakeService {
	return &fakeService{
		entities: map[string]*occi.Entity{},
		members:  map[string]bool{},
		mixins:   map[occi.CategoryID]*occi.Mixin{},
	}
}

func (f *fakeService) record(ctx context.Context, op, path string, arg any) error {
	rev, _ := occi.ExpectedRevision(ctx)
	f.calls = append(f.calls, call{Op: op, Path: path, Arg: arg, Revision: rev, MustNotExist: occi.MustNotExist(ctx)})
	if path == "/panic" || path == "/compute/panic" {
		panic("fake service told to panic")
	}
	if f.hook != nil {
		return f.hook(op, path)
	}
	return nil
}

func (f *fakeService) lastCall() call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return call{}
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeService) Resolve(ctx context.Context, path string) (occi.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case path == "/-/" || path == "/.well-known/org/ogf/occi/-/":
		return occi.Target{Type: occi.TargetQueryInterface, Path: path}, nil
	case path == "/compute/" || path == "/compute":
		return occi.Target{Type: occi.TargetKindCollection, Category: kindCompute, Path: "/compute/"}, nil
	case path == "/tags/web/" || path == "/tags/web":
		return occi.Target{Type: occi.TargetMixinCollection, Category: mixinTag, Path: "/tags/web/"}, nil
	case path == "/" || path == "/tags/":
		return occi.Target{Type: occi.TargetUnbound, Path: path}, nil
	case path == "/panic":
		panic("fake Resolve told to panic")
	case strings.HasPrefix(path, "/compute/") && !strings.HasSuffix(path, "/"):
		return occi.Target{Type: occi.TargetEntity, Path: path}, nil
	}
	return occi.Target{}, occi.Errorf(occi.NotFound, "nothing at %s", path)
}

func (f *fakeService) Discover(ctx context.Context, filter []occi.CategoryID) (*occi.Discovery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Discover", "/-/", filter); err != nil {
		return nil, err
	}
	d := &occi.Discovery{
		Kinds:   []*occi.Kind{{ID: kindCompute, Location: "/compute/", Actions: []occi.CategoryID{actionStart, actionSave}}},
		Mixins:  []*occi.Mixin{{ID: mixinTag, Location: "/tags/web/"}},
		Actions: []*occi.Action{{ID: actionStart}, {ID: actionSave}},
	}
	for _, m := range f.mixins {
		d.Mixins = append(d.Mixins, m)
	}
	return d, nil
}

func (f *fakeService) DefineMixin(ctx context.Context, m *occi.Mixin) (*occi.Mixin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "DefineMixin", "/-/", m.ID); err != nil {
		return nil, err
	}
	if _, ok := f.mixins[m.ID]; ok || m.ID == mixinTag {
		return nil, occi.Errorf(occi.AlreadyExists, "mixin %s exists", m.ID)
	}
	f.mixins[m.ID] = m
	return m, nil
}

func (f *fakeService) DeleteMixin(ctx context.Context, id occi.CategoryID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "DeleteMixin", "/-/", id); err != nil {
		return err
	}
	if id == mixinTag {
		return occi.Errorf(occi.PermissionDenied, "mixin %s is the provider's", id)
	}
	if _, ok := f.mixins[id]; !ok {
		return occi.Errorf(occi.NotFound, "no mixin %s", id)
	}
	delete(f.mixins, id)
	return nil
}

func (f *fakeService) Create(ctx context.Context, collection string, e *occi.Entity) (*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Create", collection, e.Title); err != nil {
		return nil, err
	}
	if e.Kind != kindCompute {
		return nil, occi.Errorf(occi.InvalidArgument, "kind %s does not belong in %s", e.Kind, collection)
	}
	f.next++
	c := e.Clone()
	c.Location = fmt.Sprintf("/compute/%d", f.next)
	c.ID = fmt.Sprint(f.next)
	c.Revision = 1
	c.Actions = []occi.CategoryID{actionStart, actionSave}
	f.entities[c.Location] = c
	return c.Clone(), nil
}

func (f *fakeService) Put(ctx context.Context, location string, e *occi.Entity) (*occi.Entity, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Put", location, e.Title); err != nil {
		return nil, false, err
	}
	old, exists := f.entities[location]
	if exists && occi.MustNotExist(ctx) {
		return nil, false, occi.Errorf(occi.PreconditionFailed, "%s exists", location)
	}
	c := e.Clone()
	c.Location = location
	c.Revision = 1
	if exists {
		c.Revision = old.Revision + 1
	}
	f.entities[location] = c
	return c.Clone(), !exists, nil
}

func (f *fakeService) Get(ctx context.Context, location string) (*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Get", location, nil); err != nil {
		return nil, err
	}
	e, ok := f.entities[location]
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	return e.Clone(), nil
}

func (f *fakeService) Update(ctx context.Context, location string, patch *occi.Entity) (*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Update", location, patch.Title); err != nil {
		return nil, err
	}
	e, ok := f.entities[location]
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	if rev, ok := occi.ExpectedRevision(ctx); ok && rev != e.Revision {
		return nil, occi.Errorf(occi.PreconditionFailed, "revision is %d, not %d", e.Revision, rev)
	}
	if patch.Title != "" {
		e.Title = patch.Title
	}
	e.Revision++
	return e.Clone(), nil
}

func (f *fakeService) Delete(ctx context.Context, location string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Delete", location, nil); err != nil {
		return err
	}
	if _, ok := f.entities[location]; !ok {
		return occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	delete(f.entities, location)
	delete(f.members, location)
	return nil
}

func (f *fakeService) sorted(filter func(*occi.Entity) bool) []*occi.Entity {
	var out []*occi.Entity
	for _, e := range f.entities {
		if filter(e) {
			out = append(out, e.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out
}

func (f *fakeService) List(ctx context.Context, q occi.ListQuery) ([]*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "List", q.Collection, q); err != nil {
		return nil, err
	}
	if q.Number > 100 {
		return nil, occi.Errorf(occi.TooLarge, "number %d is above the maximum page size 100", q.Number)
	}
	es := f.sorted(func(e *occi.Entity) bool {
		return q.Collection != "/tags/web/" || f.members[e.Location]
	})
	return es, nil
}

func (f *fakeService) DeleteAll(ctx context.Context, collection string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "DeleteAll", collection, nil); err != nil {
		return err
	}
	f.entities = map[string]*occi.Entity{}
	return nil
}

func (f *fakeService) membership() []*occi.Entity {
	return f.sorted(func(e *occi.Entity) bool { return f.members[e.Location] })
}

func (f *fakeService) Associate(ctx context.Context, collection string, locs []string) ([]*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Associate", collection, locs); err != nil {
		return nil, err
	}
	for _, l := range locs {
		if _, ok := f.entities[l]; !ok {
			return nil, occi.Errorf(occi.NotFound, "no entity at %s", l)
		}
	}
	for _, l := range locs {
		f.members[l] = true
	}
	return f.membership(), nil
}

func (f *fakeService) ReplaceMembers(ctx context.Context, collection string, locs []string) ([]*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "ReplaceMembers", collection, locs); err != nil {
		return nil, err
	}
	f.members = map[string]bool{}
	for _, l := range locs {
		f.members[l] = true
	}
	return f.membership(), nil
}

func (f *fakeService) Dissociate(ctx context.Context, collection string, locs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Dissociate", collection, locs); err != nil {
		return err
	}
	if len(locs) == 0 {
		f.members = map[string]bool{}
	}
	for _, l := range locs {
		delete(f.members, l)
	}
	return nil
}

func (f *fakeService) Invoke(ctx context.Context, location string, inv *occi.ActionInvocation) (*occi.ActionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "Invoke", location, inv.Action); err != nil {
		return nil, err
	}
	e, ok := f.entities[location]
	if !ok {
		return nil, occi.Errorf(occi.NotFound, "no entity at %s", location)
	}
	switch inv.Action {
	case actionSave:
		return &occi.ActionResult{Mixin: &occi.Mixin{
			ID: occi.CategoryID{Scheme: "http://occid.local/occi/os_tpl#", Term: "saved1"}, Location: "/os_tpl/saved1/",
		}}, nil
	case actionStart:
		e.Attributes = occi.Attributes{"occi.compute.state": "active"}
		e.Revision++
		return &occi.ActionResult{Entity: e.Clone()}, nil
	}
	return nil, occi.Errorf(occi.InvalidArgument, "action %s is not defined for %s", inv.Action, location)
}

func (f *fakeService) InvokeAll(ctx context.Context, collection string, inv *occi.ActionInvocation) ([]*occi.Entity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(ctx, "InvokeAll", collection, inv.Action); err != nil {
		return nil, err
	}
	return f.sorted(func(*occi.Entity) bool { return true }), nil
}

var _ occi.Service = (*fakeService)(nil)

// header builds an http.Header from name/value pairs.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
