// Package occiclient is a Go client of OCCI 1.2 servers, such as occid. Its
// Client is an occihttp.Client (which implements every operation of
// occi.Service over HTTP, in text/plain, text/occi or application/occi+json)
// with the conveniences a person or a script wants on top: a constructor
// that takes an endpoint, a rendering name and credentials; locations given
// as absolute URLs or paths; kinds, mixins, templates and actions named by
// their term instead of their full type identifier; typed attribute values
// parsed from "name=value" strings; saving a compute and waiting for the new
// OS template to be ready; linking resources; and adding entities to and
// removing them from mixins.
//
// Names are resolved through the server's discovery, which a Client keeps
// for two seconds (see Forget), so that one command naming several
// categories asks the server once.
//
// Every error a Client returns carries an occi.Code (see occi.ErrorCode); an
// error the server answered carries the server's X-OCCI-Error message, and
// Status gives the HTTP status that corresponds to its code.
//
// The occi command-line client (cmd/occi) is built on this package.
package occiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/occihttp"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
)

// The media types of the renderings a Client speaks.
const (
	TextPlain = "text/plain"
	TextOCCI  = "text/occi"
	JSON      = "application/occi+json"
)

// MediaType returns the media type of a rendering name: "text" (or "" or
// "plain") is text/plain, "occi" (or "headers") is text/occi, "json" is
// application/occi+json; a media type one of these answers to is returned
// as its canonical form. Anything else is an InvalidArgument error.
func MediaType(rendering string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(rendering)) {
	case "", "text", "plain", "text/plain", "text/occi+plain":
		return TextPlain, nil
	case "occi", "headers", "text/occi":
		return TextOCCI, nil
	case "json", "application/occi+json", "application/json":
		return JSON, nil
	}
	return "", errorf(occi.InvalidArgument, "rendering %q: want text (text/plain), occi (text/occi) or json (application/occi+json)", rendering)
}

// Codecs returns the renderings a Client can speak: text/plain, text/occi
// and application/occi+json.
func Codecs() []render.Codec {
	return []render.Codec{occitext.Plain(), occitext.Headers(), occijson.New()}
}

// Options configure a Client. The zero value speaks text/plain without
// credentials over http.DefaultClient.
type Options struct {
	// Rendering is the rendering of requests and responses: a name or a
	// media type that MediaType accepts. Empty means text/plain.
	Rendering string
	// Token, if set, is sent as "Authorization: Bearer <Token>" (occid's
	// static tokens, OIDC access tokens).
	Token string
	// User and Password, if User is set, are sent as HTTP Basic
	// credentials. They are ignored when Token is set.
	User, Password string
	// HTTPClient sends the requests; nil means a client with no timeout of
	// its own (use the context for deadlines).
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent; empty means "occi-client OCCI/1.2".
	UserAgent string
}

// Client is a client of one OCCI server. Its embedded *occihttp.Client
// carries every occi.Service operation (Discover, Create, Get, Update,
// Delete, List, Associate, Invoke, …) with locations given as paths; the
// methods of Client itself accept absolute URLs too and resolve terms
// through discovery. A Client is safe for concurrent use.
type Client struct {
	*occihttp.Client

	endpoint string
	mt       string
	opts     Options
	hc       *http.Client
	json     *occihttp.Client // the same server in JSON, for what text renderings cannot carry

	mu    sync.Mutex
	cache map[*occihttp.Client]cachedDiscovery
}

// cachedDiscovery is a discovery kept briefly for resolving names, so that
// one command naming several categories asks the server once.
type cachedDiscovery struct {
	d    *occi.Discovery
	user string
	at   time.Time
}

// discoveryTTL is how long a discovery is reused for resolving names.
const discoveryTTL = 2 * time.Second

// discovery returns the full discovery through sc, reusing one younger
// than discoveryTTL for the same caller.
func (c *Client) discovery(ctx context.Context, sc *occihttp.Client) (*occi.Discovery, error) {
	user := occi.IdentityFrom(ctx).User
	c.mu.Lock()
	cd, ok := c.cache[sc]
	c.mu.Unlock()
	if ok && cd.user == user && time.Since(cd.at) < discoveryTTL {
		return cd.d, nil
	}
	d, err := sc.Discover(ctx, nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[*occihttp.Client]cachedDiscovery{}
	}
	c.cache[sc] = cachedDiscovery{d: d, user: user, at: time.Now()}
	c.mu.Unlock()
	return d, nil
}

// Forget drops the discovery the client keeps for resolving names, so
// that the next name is looked up afresh (after defining or deleting a
// mixin, say).
func (c *Client) Forget() {
	c.mu.Lock()
	c.cache = nil
	c.mu.Unlock()
}

// New returns a Client of the OCCI server at endpoint, an absolute http or
// https URL such as "http://127.0.0.1:8080" (a path prefix is kept). It
// returns an InvalidArgument error for a malformed endpoint or an unknown
// rendering; it does not contact the server.
func New(endpoint string, o Options) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errorf(occi.InvalidArgument, "endpoint %q: want an absolute http or https URL such as http://127.0.0.1:8080", endpoint)
	}
	mt, err := MediaType(o.Rendering)
	if err != nil {
		return nil, err
	}
	c := &Client{endpoint: strings.TrimRight(endpoint, "/"), mt: mt, opts: o}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	if o.Token == "" && o.User != "" {
		cp := *hc
		next := cp.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		cp.Transport = basicAuth{user: o.User, password: o.Password, next: next}
		hc = &cp
	}
	c.hc = hc
	ua := o.UserAgent
	if ua == "" {
		ua = "occi-client OCCI/1.2"
	}
	newClient := func(mt string) *occihttp.Client {
		return occihttp.NewClient(c.endpoint, occihttp.ClientOptions{
			MediaType: mt, HTTPClient: hc, Token: o.Token, Codecs: Codecs(), UserAgent: ua,
		})
	}
	c.Client = newClient(mt)
	c.json = c.Client
	if mt != JSON {
		c.json = newClient(JSON)
	}
	return c, nil
}

// basicAuth adds HTTP Basic credentials to every request.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// Endpoint returns the server's base URL, without a trailing slash.
func (c *Client) Endpoint() string { return c.endpoint }

// HTTPClient returns the HTTP client the Client sends requests with
// (credentials included).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Path returns the path of loc on this server: loc itself if it is a path
// ("/compute/1f0e"), or the path of an absolute URL under the endpoint. A
// URL of another server, or a string that is neither, is an InvalidArgument
// error.
func (c *Client) Path(loc string) (string, error) {
	if strings.HasPrefix(loc, "/") {
		return loc, nil
	}
	if p, ok := strings.CutPrefix(loc, c.endpoint); ok && (p == "" || strings.HasPrefix(p, "/")) {
		if p == "" {
			p = "/"
		}
		return p, nil
	}
	if u, err := url.Parse(loc); err == nil && u.IsAbs() {
		return "", errorf(occi.InvalidArgument, "location %s is not on the server %s", loc, c.endpoint)
	}
	return "", errorf(occi.InvalidArgument, "location %q: want a path such as /compute/ID or an absolute URL under %s", loc, c.endpoint)
}

// URL returns the absolute URL of a path on this server; an absolute URL
// is returned as it is.
func (c *Client) URL(path string) string {
	if strings.HasPrefix(path, "/") {
		return c.endpoint + path
	}
	return path
}

// Status returns the HTTP status that corresponds to err's code, as occid
// answers it: 404 for NotFound, 409 for Conflict, and so on (see
// occihttp.Status); 0 for nil.
func Status(err error) int {
	if err == nil {
		return 0
	}
	return occihttp.Status(occi.ErrorCode(err))
}

// FromServer reports whether err is the answer of a server (an HTTP error
// status) rather than a failure to reach it or a mistake found before any
// request was sent (an unknown term, a malformed value).
func FromServer(err error) bool {
	var oe *occi.Error
	var le *localError
	return err != nil && errors.As(err, &oe) && oe.Err == nil && !errors.As(err, &le)
}

// localError is an error found by the client itself; it carries an
// *occi.Error for its code.
type localError struct{ e *occi.Error }

func (l *localError) Error() string { return l.e.Error() }
func (l *localError) Unwrap() error { return l.e }

// errorf returns a client-side error with a code.
func errorf(code occi.Code, format string, args ...any) error {
	return &localError{e: &occi.Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// ErrorText returns err's message, followed by the HTTP status when the
// server answered it, e.g. "compute /compute/x does not exist (404 Not
// Found)".
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	if !FromServer(err) {
		return err.Error()
	}
	s := Status(err)
	return fmt.Sprintf("%s (%d %s)", err.Error(), s, http.StatusText(s))
}
