package occihttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/occid/occi"
	"github.com/occid/occi/render"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// MediaType is the rendering of requests and responses, e.g.
	// "text/plain", "text/occi" or "application/occi+json". Empty means
	// the MediaType of the first codec.
	MediaType string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Token, if set, is sent as "Authorization: Bearer <Token>", or as
	// the header TokenHeader names.
	Token string
	// TokenHeader, if set, is the header that carries Token as is instead
	// of "Authorization: Bearer", such as "X-Auth-Token" for Keystone.
	TokenHeader string
	// User and Password, if User is set, are sent as HTTP Basic
	// credentials. Token, if also set, wins.
	User, Password string
	// Codecs are the renderings the client can use; the one whose media
	// type or alias is MediaType is used.
	Codecs []render.Codec
	// UserAgent is sent as User-Agent; it should carry "OCCI/1.2". Empty
	// means "occid-client OCCI/1.2".
	UserAgent string
	// MaxResponse caps a response body in bytes; 0 means 64 MiB.
	MaxResponse int64
}

// Client is an occi.Service over HTTP: every method is one or a few OCCI
// requests to a server, rendered in one media type, and every error carries
// the occi.Code of the answer (from its Occid-Error-Code header when the
// server is occid, else from its status) with the X-OCCI-Error message.
// Locations are paths relative to the base URL. It is safe for concurrent
// use.
type Client struct {
	base  string
	mt    string
	codec render.Codec
	err   error
	hc    *http.Client
	token string
	thdr  string
	user  string
	pass  string
	ua    string
	max   int64

	kindMu  sync.Mutex
	kindLoc map[occi.CategoryID]string // kind locations, from discovery
}

var _ occi.Service = (*Client)(nil)

// NewClient returns a Client of the OCCI server at baseURL (e.g.
// "http://127.0.0.1:8080"; a path prefix is kept). If no codec serves
// opts.MediaType, every method fails with InvalidArgument.
func NewClient(baseURL string, opts ClientOptions) *Client {
	c := &Client{
		base:  strings.TrimRight(baseURL, "/"),
		mt:    opts.MediaType,
		hc:    opts.HTTPClient,
		token: opts.Token,
		thdr:  opts.TokenHeader,
		user:  opts.User,
		pass:  opts.Password,
		ua:    opts.UserAgent,
		max:   opts.MaxResponse,
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.ua == "" {
		c.ua = "occid-client OCCI/1.2"
	}
	if c.max <= 0 {
		c.max = 64 << 20
	}
	if c.mt == "" && len(opts.Codecs) > 0 {
		c.mt = opts.Codecs[0].MediaType()
	}
	for _, cd := range opts.Codecs {
		if cd.MediaType() == c.mt || contains(cd.Aliases(), c.mt) {
			c.codec = cd
			break
		}
	}
	if c.codec == nil {
		c.err = occi.Errorf(occi.InvalidArgument, "occihttp client: no codec for media type %q", c.mt)
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// MediaType returns the media type the client speaks.
func (c *Client) MediaType() string { return c.mt }

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) reader(base string) *render.Reader {
	return &render.Reader{Header: r.header, Body: r.body, Base: base}
}

// do sends one request. enc, if not nil, renders the request in the
// client's codec; q, if not nil, is the query string. An answer of 400 or
// more is returned as an error.
func (c *Client) do(ctx context.Context, method, path string, q *query, enc func(*render.Writer) error) (*response, error) {
	if c.err != nil {
		return nil, c.err
	}
	u := c.base + (&url.URL{Path: path}).EscapedPath()
	if q != nil {
		if s := encodeQuery(q); s != "" {
			u += "?" + s
		}
	}
	var body io.Reader
	h := http.Header{}
	if enc != nil {
		var buf bytes.Buffer
		// Locations go out as paths (Base ""), which every server takes as
		// relative to itself.
		if err := enc(&render.Writer{Header: h, Body: &buf}); err != nil {
			return nil, err
		}
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", c.mt)
		}
		body = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, occi.Wrap(err, occi.InvalidArgument, "building the request for "+path)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", c.mt)
	req.Header.Set("User-Agent", c.ua)
	switch {
	case c.token != "" && c.thdr != "":
		req.Header.Set(c.thdr, c.token)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		req.SetBasicAuth(c.user, c.pass)
	}
	if method != http.MethodGet && method != http.MethodHead {
		if rev, ok := occi.ExpectedRevision(ctx); ok && rev == 0 {
			req.Header.Set("If-Match", "*")
		} else if ok {
			req.Header.Set("If-Match", `"`+strconv.FormatInt(rev, 10)+`"`)
		}
		if method == http.MethodPut && occi.MustNotExist(ctx) {
			req.Header.Set("If-None-Match", "*")
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, occi.Wrap(err, occi.Unavailable, "request cancelled")
		}
		return nil, occi.Wrap(err, occi.Unavailable, fmt.Sprintf("%s %s failed", method, path))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.max+1))
	if err != nil {
		return nil, occi.Wrap(err, occi.Unavailable, fmt.Sprintf("reading the answer to %s %s", method, path))
	}
	if int64(len(b)) > c.max {
		return nil, occi.Errorf(occi.TooLarge, "the answer to %s %s exceeds %d bytes", method, path, c.max)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if r.status >= 400 {
		return nil, c.responseError(method, path, r)
	}
	return r, nil
}

// responseError turns an error answer into an *occi.Error: the code from
// Occid-Error-Code, else from the status; the message from X-OCCI-Error,
// else from the body as the codec reads it, else the body's first line.
func (c *Client) responseError(method, path string, r *response) error {
	code := CodeOf(r.status)
	if n, ok := codeByName[r.header.Get("Occid-Error-Code")]; ok {
		code = n
	}
	msg := r.header.Get("X-OCCI-Error")
	if msg == "" {
		if _, m, err := c.codec.DecodeError(r.reader(c.base)); err == nil {
			msg = m
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(r.body))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg == "" {
			msg = fmt.Sprintf("%s %s: %d %s", method, path, r.status, http.StatusText(r.status))
		}
	}
	return &occi.Error{Code: code, Message: msg}
}

// revision sets e.Revision from the answer's ETag.
func revision(e *occi.Entity, h http.Header) {
	if e == nil {
		return
	}
	if rev, ok, err := parseIfMatch(h.Get("ETag")); err == nil && ok {
		e.Revision = rev
	}
}

// path strips the base URL from an absolute location on this server.
func (c *Client) path(loc string) string {
	if p, ok := strings.CutPrefix(loc, c.base); ok && strings.HasPrefix(p, "/") {
		return p
	}
	return loc
}

// Resolve reports what path names, from the Occid-Target, Occid-Category
// and Content-Location headers of a HEAD request (occid servers only).
func (c *Client) Resolve(ctx context.Context, path string) (occi.Target, error) {
	r, err := c.do(ctx, http.MethodHead, path, nil, nil)
	if err != nil {
		return occi.Target{}, err
	}
	t := occi.Target{Path: path}
	if cl := r.header.Get("Content-Location"); cl != "" {
		t.Path = c.path(cl)
	}
	switch r.header.Get("Occid-Target") {
	case targetNames[occi.TargetQueryInterface]:
		t.Type = occi.TargetQueryInterface
	case targetNames[occi.TargetKindCollection]:
		t.Type = occi.TargetKindCollection
	case targetNames[occi.TargetMixinCollection]:
		t.Type = occi.TargetMixinCollection
	case targetNames[occi.TargetEntity]:
		t.Type = occi.TargetEntity
	case targetNames[occi.TargetUnbound]:
		t.Type = occi.TargetUnbound
	default:
		return occi.Target{}, occi.Errorf(occi.Unimplemented, "the server does not say what %s is (no Occid-Target header)", path)
	}
	if s := r.header.Get("Occid-Category"); s != "" {
		id, err := occi.ParseCategoryID(s)
		if err != nil {
			return occi.Target{}, err
		}
		t.Category = id
	}
	return t, nil
}

// Discover sends GET /-/ with the filter as category parameters.
func (c *Client) Discover(ctx context.Context, filter []occi.CategoryID) (*occi.Discovery, error) {
	q := &query{}
	for _, id := range filter {
		q.categories = append(q.categories, id.String())
	}
	r, err := c.do(ctx, http.MethodGet, "/-/", q, nil)
	if err != nil {
		return nil, err
	}
	return c.codec.DecodeDiscovery(r.reader(c.base))
}

// DefineMixin sends POST /-/ with the mixin and returns the server's
// rendering of it.
func (c *Client) DefineMixin(ctx context.Context, m *occi.Mixin) (*occi.Mixin, error) {
	r, err := c.do(ctx, http.MethodPost, "/-/", nil, func(w *render.Writer) error {
		return c.codec.EncodeDiscovery(w, &occi.Discovery{Mixins: []*occi.Mixin{m}})
	})
	if err != nil {
		return nil, err
	}
	ms, err := c.codec.DecodeMixins(r.reader(c.base))
	if err != nil {
		return nil, err
	}
	for _, got := range ms {
		if got.ID == m.ID {
			return got, nil
		}
	}
	return nil, occi.Errorf(occi.Internal, "the server's answer to POST /-/ does not hold mixin %s", m.ID)
}

// DeleteMixin sends DELETE /-/ with the mixin's category.
func (c *Client) DeleteMixin(ctx context.Context, id occi.CategoryID) error {
	m := &occi.Mixin{ID: id}
	// The text renderings identify a mixin by its full category line, so
	// send what the server knows of it when it is visible.
	if d, err := c.Discover(ctx, []occi.CategoryID{id}); err == nil {
		for _, dm := range d.Mixins {
			if dm.ID == id {
				m = dm
			}
		}
	}
	_, err := c.do(ctx, http.MethodDelete, "/-/", nil, func(w *render.Writer) error {
		return c.codec.EncodeDiscovery(w, &occi.Discovery{Mixins: []*occi.Mixin{m}})
	})
	return err
}

// Create sends POST to the kind collection, then GET of the new location.
func (c *Client) Create(ctx context.Context, collection string, e *occi.Entity) (*occi.Entity, error) {
	r, err := c.do(ctx, http.MethodPost, collection, nil, func(w *render.Writer) error {
		return c.codec.EncodeEntity(w, e)
	})
	if err != nil {
		return nil, err
	}
	loc := r.header.Get("Location")
	if loc == "" {
		locs, err := c.codec.DecodeLocations(r.reader(c.base))
		if err != nil || len(locs) == 0 {
			return nil, occi.Errorf(occi.Internal, "the server's answer to POST %s names no location", collection)
		}
		loc = locs[0]
	}
	return c.Get(ctx, c.path(loc))
}

// Put sends PUT to the entity's location.
func (c *Client) Put(ctx context.Context, location string, e *occi.Entity) (*occi.Entity, bool, error) {
	r, err := c.do(ctx, http.MethodPut, location, nil, func(w *render.Writer) error {
		return c.codec.EncodeEntity(w, e)
	})
	if err != nil {
		return nil, false, err
	}
	out, err := c.entity(ctx, r, location)
	return out, r.status == http.StatusCreated, err
}

// entity reads an entity answer to a request for location; renderings
// that do not carry the entity's own location (text) get it from there.
func (c *Client) entity(ctx context.Context, r *response, location string) (*occi.Entity, error) {
	e, err := c.codec.DecodeEntity(r.reader(c.base))
	if err != nil {
		return nil, err
	}
	if e.Location == "" {
		e.Location = location
		if cl := r.header.Get("Content-Location"); cl != "" {
			e.Location = c.path(cl)
		}
	}
	if err := c.locateAll(ctx, e.Links); err != nil {
		return nil, err
	}
	revision(e, r.header)
	return e, nil
}

// locateAll fills in the Location of entities (and of their links) that
// arrive without one. GFD.225 gives JSON entities an id but no location,
// and its schema allows no extra member, so the client derives it as a
// server following the digest's convention (C9) lays it out: the kind's
// collection location, learnt from discovery, followed by the id without
// a "urn:uuid:" prefix.
func (c *Client) locateAll(ctx context.Context, es []*occi.Entity) error {
	for _, e := range es {
		if e == nil {
			continue
		}
		if e.Location == "" && e.ID != "" && !e.Kind.IsZero() {
			kl, err := c.kindLocation(ctx, e.Kind)
			if err != nil {
				return err
			}
			if kl != "" {
				e.Location = kl + strings.TrimPrefix(e.ID, "urn:uuid:")
			}
		}
		if err := c.locateAll(ctx, e.Links); err != nil {
			return err
		}
	}
	return nil
}

// kindLocation returns the path of kind's collection ("" if the server has
// no such kind), asking the server's query interface once.
func (c *Client) kindLocation(ctx context.Context, kind occi.CategoryID) (string, error) {
	c.kindMu.Lock()
	defer c.kindMu.Unlock()
	if c.kindLoc == nil {
		d, err := c.Discover(ctx, nil)
		if err != nil {
			return "", err
		}
		c.kindLoc = make(map[occi.CategoryID]string, len(d.Kinds))
		for _, k := range d.Kinds {
			if k.Location != "" {
				c.kindLoc[k.ID] = c.path(k.Location)
			}
		}
	}
	return c.kindLoc[kind], nil
}

// Get sends GET to the entity's location.
func (c *Client) Get(ctx context.Context, location string) (*occi.Entity, error) {
	r, err := c.do(ctx, http.MethodGet, location, nil, nil)
	if err != nil {
		return nil, err
	}
	return c.entity(ctx, r, location)
}

// Update sends POST (partial update) to the entity's location.
func (c *Client) Update(ctx context.Context, location string, patch *occi.Entity) (*occi.Entity, error) {
	r, err := c.do(ctx, http.MethodPost, location, nil, func(w *render.Writer) error {
		return c.codec.EncodeEntity(w, patch)
	})
	if err != nil {
		return nil, err
	}
	return c.entity(ctx, r, location)
}

// Delete sends DELETE to the entity's location.
func (c *Client) Delete(ctx context.Context, location string) error {
	_, err := c.do(ctx, http.MethodDelete, location, nil, nil)
	return err
}

// List sends GET to the collection with the filter and page as query
// parameters. In renderings whose collections hold only locations (text),
// every entity is then fetched; one deleted meanwhile is left out.
func (c *Client) List(ctx context.Context, lq occi.ListQuery) ([]*occi.Entity, error) {
	q := &query{page: lq.Page, number: lq.Number, attrs: lq.Attributes}
	for _, id := range lq.Categories {
		q.categories = append(q.categories, id.String())
	}
	for k, v := range lq.Attributes {
		if formatValue(v) == "" {
			return nil, occi.Errorf(occi.InvalidArgument, "attribute filter %s: only strings, numbers and booleans can be sent as query parameters", k)
		}
	}
	r, err := c.do(ctx, http.MethodGet, lq.Collection, q, nil)
	if err != nil {
		return nil, err
	}
	return c.collection(ctx, r)
}

// collection reads an entity collection answer.
func (c *Client) collection(ctx context.Context, r *response) ([]*occi.Entity, error) {
	es, err := c.codec.DecodeEntities(r.reader(c.base))
	if err == nil && complete(es) {
		if es == nil {
			es = []*occi.Entity{}
		}
		if err := c.locateAll(ctx, es); err != nil {
			return nil, err
		}
		return es, nil
	}
	locs, lerr := c.codec.DecodeLocations(r.reader(c.base))
	if lerr != nil {
		if err != nil {
			return nil, err
		}
		return nil, lerr
	}
	out := make([]*occi.Entity, 0, len(locs))
	for _, l := range locs {
		e, err := c.Get(ctx, l)
		if occi.ErrorCode(err) == occi.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// complete reports whether every entity is a full rendering (has a kind).
func complete(es []*occi.Entity) bool {
	for _, e := range es {
		if e == nil || e.Kind.IsZero() {
			return false
		}
	}
	return true
}

// DeleteAll sends DELETE to the collection without a body.
func (c *Client) DeleteAll(ctx context.Context, collection string) error {
	_, err := c.do(ctx, http.MethodDelete, collection, nil, nil)
	return err
}

// Associate sends POST to the mixin collection with the locations.
func (c *Client) Associate(ctx context.Context, collection string, locations []string) ([]*occi.Entity, error) {
	return c.members(ctx, http.MethodPost, collection, locations)
}

// ReplaceMembers sends PUT to the mixin collection with the locations.
func (c *Client) ReplaceMembers(ctx context.Context, collection string, locations []string) ([]*occi.Entity, error) {
	return c.members(ctx, http.MethodPut, collection, locations)
}

func (c *Client) members(ctx context.Context, method, collection string, locations []string) ([]*occi.Entity, error) {
	r, err := c.do(ctx, method, collection, nil, func(w *render.Writer) error {
		return c.codec.EncodeLocations(w, locations)
	})
	if err != nil {
		return nil, err
	}
	return c.collection(ctx, r)
}

// Dissociate sends DELETE to the mixin collection, with the locations when
// there are any (none dissociates every member).
func (c *Client) Dissociate(ctx context.Context, collection string, locations []string) error {
	var enc func(*render.Writer) error
	if len(locations) > 0 {
		enc = func(w *render.Writer) error { return c.codec.EncodeLocations(w, locations) }
	}
	_, err := c.do(ctx, http.MethodDelete, collection, nil, enc)
	return err
}

func (c *Client) actionBody(inv *occi.ActionInvocation) (func(*render.Writer) error, error) {
	if inv == nil || !occi.ValidTerm(inv.Action.Term) {
		return nil, occi.Errorf(occi.InvalidArgument, "an action invocation needs an action with a valid term")
	}
	return func(w *render.Writer) error { return c.codec.EncodeAction(w, inv) }, nil
}

// Invoke sends POST ?action=term to the entity. The answer is the entity's
// new rendering, or a mixin (save's new OS template).
func (c *Client) Invoke(ctx context.Context, location string, inv *occi.ActionInvocation) (*occi.ActionResult, error) {
	enc, err := c.actionBody(inv)
	if err != nil {
		return nil, err
	}
	r, err := c.do(ctx, http.MethodPost, location, &query{action: inv.Action.Term, hasAction: true}, enc)
	if err != nil {
		return nil, err
	}
	if r.header.Get("Occid-Result") == "mixin" {
		ms, err := c.codec.DecodeMixins(r.reader(c.base))
		if err != nil {
			return nil, err
		}
		if len(ms) != 1 {
			return nil, occi.Errorf(occi.Internal, "the answer to action %s holds %d mixins, want 1", inv.Action, len(ms))
		}
		return &occi.ActionResult{Mixin: ms[0]}, nil
	}
	e, err := c.entity(ctx, r, location)
	if err != nil {
		return nil, err
	}
	return &occi.ActionResult{Entity: e}, nil
}

// InvokeAll sends POST ?action=term to the collection.
func (c *Client) InvokeAll(ctx context.Context, collection string, inv *occi.ActionInvocation) ([]*occi.Entity, error) {
	enc, err := c.actionBody(inv)
	if err != nil {
		return nil, err
	}
	r, err := c.do(ctx, http.MethodPost, collection, &query{action: inv.Action.Term, hasAction: true}, enc)
	if err != nil {
		return nil, err
	}
	return c.collection(ctx, r)
}
