// Package openstackbackend is the occid driver for OpenStack, spoken to
// through gophercloud: compute is a Nova server (flavors are the resource
// templates, the Glance images visible to the project the OS templates),
// storage a Cinder volume, storagelink a Nova volume attachment, network a
// Neutron network (ipnetwork a subnet) and networkinterface a Neutron port
// attached to the server. Storage and network are offered only when the
// service catalog lists volumev3 and network.
//
// It authenticates with a service account from the OS_* environment or
// clouds.yaml, or passes each caller's Keystone token through (WithToken,
// Middleware) so that every user acts in their own project.
package openstackbackend

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"
	"github.com/occid/occi"
	"github.com/occid/occi/backend"
)

// Compute microversions: 2.47 embeds the flavor (vcpus, ram) in the
// server, which also brings 2.37 (networks "none") and 2.45 (createImage
// answers with the image ID in the body). 2.60 is preferred when offered.
const (
	minComputeMicroversion       = "2.47"
	preferredComputeMicroversion = "2.60"
)

// Driver is the OpenStack backend. It is safe for concurrent use.
type Driver struct {
	opts       Options
	auth       authConfig
	httpClient http.Client
	svc        *clients // the service account's clients; nil in token-only mode
	caps       caps

	mu           sync.Mutex
	tokens       map[[sha256.Size]byte]tokenEntry
	microversion string // negotiated compute microversion, "" until known
}

// clients are the service clients of one Keystone identity.
type clients struct {
	provider  *gophercloud.ProviderClient
	compute   *gophercloud.ServiceClient
	image     *gophercloud.ServiceClient
	volume    *gophercloud.ServiceClient // nil without Cinder
	network   *gophercloud.ServiceClient // nil without Neutron
	userID    string
	projectID string
}

var _ backend.Driver = (*Driver)(nil)

// Open connects to the cloud named by opts. With a service account it
// authenticates at once, negotiates the compute microversion and reads the
// catalog to decide which optional services to offer; in token-only mode it
// only checks the configuration. Errors carry a Code (Unauthenticated for
// bad credentials, Unavailable when Keystone or Nova cannot be reached).
func Open(ctx context.Context, opts Options) (*Driver, error) {
	opts.setDefaults()
	switch opts.ServerNetworks {
	case "none", "auto":
	default:
		if !validID(opts.ServerNetworks) {
			return nil, occi.Errorf(occi.InvalidArgument, "openstack: server networks %q is not none, auto or a network ID", opts.ServerNetworks)
		}
	}
	ac, err := resolveAuth(opts)
	if err != nil {
		return nil, occi.Wrap(err, occi.InvalidArgument, "openstack: "+err.Error())
	}
	d := &Driver{opts: opts, auth: ac, tokens: make(map[[sha256.Size]byte]tokenEntry)}
	if opts.HTTPClient != nil {
		d.httpClient = *opts.HTTPClient
	}
	if ac.tls != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = ac.tls
		d.httpClient.Transport = t
	}
	hasVolume := slices.Contains(opts.Services, "volumev3") || slices.Contains(opts.Services, "volume") || slices.Contains(opts.Services, "block-storage")
	hasNetwork := slices.Contains(opts.Services, "network")
	if !opts.TokenOnly {
		ao := ac.auth
		ao.AllowReauth = ao.TokenID == ""
		c, err := d.newClients(ctx, ao)
		if err != nil {
			return nil, err
		}
		d.svc = c
		hasVolume = c.volume != nil
		hasNetwork = c.network != nil && d.neutronUsable(ctx, c)
	}
	hasVolume = hasVolume && !opts.DisableVolumes
	hasNetwork = hasNetwork && !opts.DisableNetworks
	d.caps = caps(capabilities(hasVolume, hasNetwork))
	return d, nil
}

func capabilities(volume, network bool) backend.Capabilities {
	c := backend.Capabilities{
		Kinds:             []occi.CategoryID{kindCompute},
		Actions:           []occi.CategoryID{actionStart, actionStop, actionRestart, actionSuspend, actionSave},
		Mixins:            []occi.CategoryID{mixinSSHKey, mixinUserData},
		ReplaceOSTemplate: true,
		SaveMethods:       []string{saveHot, saveDeferred},
	}
	if volume {
		c.Kinds = append(c.Kinds, kindStorage, kindStorageLink)
	}
	if network {
		c.Kinds = append(c.Kinds, kindNetwork, kindNetworkInterface)
		c.Actions = append(c.Actions, actionUp, actionDown)
		c.Mixins = append(c.Mixins, mixinIPNetwork, mixinIPNetworkInterface)
	}
	return c
}

// neutronUsable reports whether the network endpoint is a Neutron that can
// create networks and ports. Every real Neutron lists API extensions; an
// endpoint that lists none (such as the all-in-one test bed's stand-in,
// which only answers Nova's lookups) is not offered.
func (d *Driver) neutronUsable(ctx context.Context, c *clients) bool {
	pages, err := extensions.List(c.network).AllPages(ctx)
	if err != nil {
		d.opts.Logger.Warn("openstack: neutron extension list failed; network kinds not offered", "err", err)
		return false
	}
	exts, err := extensions.ExtractExtensions(pages)
	if err != nil || len(exts) == 0 {
		d.opts.Logger.Warn("openstack: the network endpoint lists no Neutron extensions; network kinds not offered")
		return false
	}
	return true
}

// newClients authenticates with ao and builds the service clients from the
// catalog Keystone returned.
func (d *Driver) newClients(ctx context.Context, ao gophercloud.AuthOptions) (*clients, error) {
	p, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, occi.Wrap(err, occi.InvalidArgument, fmt.Sprintf("openstack: Keystone URL %q", ao.IdentityEndpoint))
	}
	p.HTTPClient = d.httpClient
	p.UserAgent.Prepend("occid")
	if err := openstack.Authenticate(ctx, p, ao); err != nil {
		return nil, keystoneError(err)
	}
	c := &clients{provider: p}
	if ar, ok := p.GetAuthResult().(interface {
		ExtractUser() (*tokens.User, error)
		ExtractProject() (*tokens.Project, error)
	}); ok {
		if u, err := ar.ExtractUser(); err == nil && u != nil {
			c.userID = u.ID
		}
		if pr, err := ar.ExtractProject(); err == nil && pr != nil {
			c.projectID = pr.ID
		}
	}
	eo := d.auth.eo
	if c.compute, err = openstack.NewComputeV2(p, eo); err != nil {
		return nil, occi.Wrap(err, occi.Unavailable, "openstack: the service catalog has no compute (Nova) endpoint")
	}
	if c.image, err = openstack.NewImageV2(p, eo); err != nil {
		return nil, occi.Wrap(err, occi.Unavailable, "openstack: the service catalog has no image (Glance) endpoint")
	}
	if v, err := openstack.NewBlockStorageV3(p, eo); err == nil {
		c.volume = v
	}
	if n, err := openstack.NewNetworkV2(p, eo); err == nil {
		c.network = n
	}
	mv, err := d.computeMicroversion(ctx, c.compute)
	if err != nil {
		return nil, err
	}
	c.compute.Microversion = mv
	return c, nil
}

// computeMicroversion negotiates the compute microversion once.
func (d *Driver) computeMicroversion(ctx context.Context, sc *gophercloud.ServiceClient) (string, error) {
	d.mu.Lock()
	mv := d.microversion
	d.mu.Unlock()
	if mv != "" {
		return mv, nil
	}
	sup, err := utils.GetSupportedMicroversions(ctx, sc)
	if err != nil {
		return "", d.wrap(err, "nova", "read the compute API version")
	}
	if ok, _ := sup.IsSupported(preferredComputeMicroversion); ok {
		mv = preferredComputeMicroversion
	} else if ok, _ := sup.IsSupported(minComputeMicroversion); ok {
		mv = fmt.Sprintf("%d.%d", sup.MaxMajor, sup.MaxMinor)
	} else {
		return "", occi.Errorf(occi.Unavailable, "openstack: Nova supports compute microversions %d.%d to %d.%d; occid needs %s or later",
			sup.MinMajor, sup.MinMinor, sup.MaxMajor, sup.MaxMinor, minComputeMicroversion)
	}
	d.mu.Lock()
	d.microversion = mv
	d.mu.Unlock()
	return mv, nil
}

// clientsFor returns the clients to act with: the caller's (from the token
// in ctx) or the service account's.
func (d *Driver) clientsFor(ctx context.Context) (*clients, error) {
	if t := TokenFrom(ctx); t != "" {
		return d.tokenClients(ctx, t)
	}
	if d.svc == nil {
		return nil, occi.Errorf(occi.Unauthenticated, "this server passes Keystone tokens through to OpenStack: send your token in X-Auth-Token")
	}
	return d.svc, nil
}

// stripCredentials keeps only the Keystone location of ao.
func stripCredentials(ao gophercloud.AuthOptions) gophercloud.AuthOptions {
	return gophercloud.AuthOptions{IdentityEndpoint: ao.IdentityEndpoint}
}

// Capabilities reports compute with start, stop, restart, suspend and save
// (hot and deferred), ssh_key and user_data, re-imaging through a new
// os_tpl; storage and storagelink when Cinder is offered; network,
// networkinterface, up, down, ipnetwork and ipnetworkinterface when Neutron
// is offered.
func (d *Driver) Capabilities() backend.Capabilities {
	c := backend.Capabilities(d.caps)
	c.Kinds = slices.Clone(c.Kinds)
	c.Actions = slices.Clone(c.Actions)
	c.Mixins = slices.Clone(c.Mixins)
	c.SaveMethods = slices.Clone(c.SaveMethods)
	return c
}

// Close forgets cached tokens. gophercloud keeps no connections of its own
// beyond the HTTP client's idle ones, which are closed too.
func (d *Driver) Close() error {
	d.mu.Lock()
	clear(d.tokens)
	d.mu.Unlock()
	d.httpClient.CloseIdleConnections()
	return nil
}

// Create makes a server, volume, volume attachment, network or port.
func (d *Driver) Create(ctx context.Context, req backend.CreateRequest) (backend.Observation, error) {
	if req.Entity == nil {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "create: no entity")
	}
	c, err := d.clientsFor(ctx)
	if err != nil {
		return backend.Observation{}, err
	}
	switch req.Entity.Kind {
	case kindCompute:
		return d.createServer(ctx, c, req)
	case kindStorage:
		return d.createVolume(ctx, c, req)
	case kindStorageLink:
		return d.attachVolume(ctx, c, req)
	case kindNetwork:
		return d.createNetwork(ctx, c, req)
	case kindNetworkInterface:
		return d.createPort(ctx, c, req)
	}
	return backend.Observation{}, unsupportedKind(req.Entity.Kind)
}

// Update applies changed attributes and templates.
func (d *Driver) Update(ctx context.Context, old, updated *occi.Entity) (backend.Observation, error) {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return backend.Observation{}, err
	}
	switch updated.Kind {
	case kindCompute:
		return d.updateServer(ctx, c, old, updated)
	case kindStorage:
		return d.updateVolume(ctx, c, old, updated)
	case kindStorageLink:
		return d.updateAttachment(ctx, c, old, updated)
	case kindNetwork:
		return d.updateNetwork(ctx, c, old, updated)
	case kindNetworkInterface:
		return d.updatePort(ctx, c, old, updated)
	}
	return backend.Observation{}, unsupportedKind(updated.Kind)
}

// Delete removes the object behind e; one already gone is not an error.
func (d *Driver) Delete(ctx context.Context, e *occi.Entity) error {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return err
	}
	switch e.Kind {
	case kindCompute:
		return d.deleteServer(ctx, c, e)
	case kindStorage:
		return d.deleteVolume(ctx, c, e)
	case kindStorageLink:
		return d.detachVolume(ctx, c, e)
	case kindNetwork:
		return d.deleteNetwork(ctx, c, e)
	case kindNetworkInterface:
		return d.deletePort(ctx, c, e)
	}
	return unsupportedKind(e.Kind)
}

// Observe reads the object behind e back from OpenStack.
func (d *Driver) Observe(ctx context.Context, e *occi.Entity) (backend.Observation, error) {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return backend.Observation{}, err
	}
	if e.BackendRef == "" {
		return backend.Observation{Gone: true}, nil
	}
	switch e.Kind {
	case kindCompute:
		return d.observeServer(ctx, c, e.BackendRef)
	case kindStorage:
		return d.observeVolume(ctx, c, e.BackendRef)
	case kindStorageLink:
		return d.observeAttachment(ctx, c, e.BackendRef)
	case kindNetwork:
		return d.observeNetwork(ctx, c, e.BackendRef)
	case kindNetworkInterface:
		return d.observePort(ctx, c, e.BackendRef)
	}
	return backend.Observation{}, unsupportedKind(e.Kind)
}

// Act runs a compute or network action and waits for its end state.
func (d *Driver) Act(ctx context.Context, e *occi.Entity, inv *occi.ActionInvocation, progress backend.ProgressFunc) (backend.Observation, error) {
	if inv == nil {
		return backend.Observation{}, occi.Errorf(occi.InvalidArgument, "action: no invocation")
	}
	if progress == nil {
		progress = func(backend.Observation) {}
	}
	c, err := d.clientsFor(ctx)
	if err != nil {
		return backend.Observation{}, err
	}
	if e.BackendRef == "" {
		return backend.Observation{}, occi.Errorf(occi.NotFound, "%s has no OpenStack object behind it", e.Location)
	}
	switch e.Kind {
	case kindCompute:
		return d.actServer(ctx, c, e, inv, progress)
	case kindNetwork:
		return d.actNetwork(ctx, c, e, inv)
	}
	return backend.Observation{}, occi.Errorf(occi.Unimplemented, "action %s is not supported on %s", inv.Action, e.Kind)
}

func unsupportedKind(k occi.CategoryID) error {
	return occi.Errorf(occi.Unimplemented, "the OpenStack backend does not offer kind %s here", k)
}

// ErrorCode classifies an error of this driver: its own *occi.Error codes,
// gophercloud's HTTP status errors (400 InvalidArgument, 401
// Unauthenticated, 403 PermissionDenied, 404 NotFound, 409
// FailedPrecondition, 413 and 429 and 5xx Unavailable, 501 Unimplemented),
// and transport failures and timeouts as Unavailable.
func (d *Driver) ErrorCode(err error) occi.Code {
	return errorCode(err)
}

var errAlreadyGone = errors.New("already gone")

// caps are the fixed capabilities of an open driver.
type caps backend.Capabilities

func (c caps) hasKind(k occi.CategoryID) bool { return slices.Contains(c.Kinds, k) }
