package openstackbackend

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
)

// Options configure a Driver.
type Options struct {
	// Cloud names the cloud in clouds.yaml (looked up as the OpenStack
	// clients do: $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
	// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml). When
	// empty, the OS_* environment variables of an openrc file are used.
	Cloud string

	// TokenOnly selects Keystone token pass-through without a service
	// account: occid holds no cloud credentials, and every call must carry
	// the caller's token (see WithToken) or fails with Unauthenticated.
	// AuthURL (or OS_AUTH_URL, or the cloud's auth_url) names Keystone.
	TokenOnly bool
	// AuthURL overrides the Keystone URL, e.g. "http://127.0.0.1:5000/v3".
	AuthURL string
	// Region and Interface override the endpoint selection ("public",
	// "internal", "admin"); empty means the cloud's setting or public.
	Region    string
	Interface string

	// Services lists the optional services to offer in token-only mode,
	// where no catalog is seen at Open: "volumev3" (storage and
	// storagelink) and "network" (network, networkinterface, ipnetwork).
	// With a service account the catalog decides and Services is ignored.
	Services []string
	// DisableVolumes and DisableNetworks hide Cinder and Neutron even if
	// the catalog lists them.
	DisableVolumes  bool
	DisableNetworks bool

	// ServerNetworks is what new servers are attached to: "none" (the
	// default, required by the all-in-one test bed), "auto", or the ID of
	// a Neutron network.
	ServerNetworks string
	// DefaultFlavor and DefaultImage (a name or ID) are used for a compute
	// created without a resource_tpl or os_tpl mixin. Without a
	// DefaultFlavor the smallest flavor that fits occi.compute.cores and
	// occi.compute.memory is chosen; without a DefaultImage an os_tpl is
	// required.
	DefaultFlavor string
	DefaultImage  string

	// Timeout bounds every wait for OpenStack to reach a state (default
	// 5 minutes). PollInterval is the first delay between polls (default
	// 200 ms); it grows by half each time up to 3 s.
	Timeout      time.Duration
	PollInterval time.Duration

	// HTTPClient, if set, carries every request (tests use it).
	HTTPClient *http.Client
	// Logger receives debug and warning messages; nil discards them.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.ServerNetworks == "" {
		o.ServerNetworks = defaultServerNetworks
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// OptionsFromURL parses the --backend value "openstack" or
// "openstack://CLOUDNAME" (a clouds.yaml entry); a query may set
// token_only=true, auth_url=, region=, interface=, networks=,
// default_flavor=, default_image=, timeout= and services=volumev3,network.
func OptionsFromURL(raw string) (Options, error) {
	var o Options
	if raw == "openstack" || raw == "openstack:" || raw == "openstack://" {
		return o, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "openstack" {
		return o, fmt.Errorf("backend %q is not openstack or openstack://CLOUDNAME", raw)
	}
	o.Cloud = u.Host
	if o.Cloud == "" {
		o.Cloud = u.Opaque
	}
	q := u.Query()
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "token_only":
			o.TokenOnly = v == "true" || v == "1" || v == "yes"
		case "auth_url":
			o.AuthURL = v
		case "region":
			o.Region = v
		case "interface":
			o.Interface = v
		case "networks":
			o.ServerNetworks = v
		case "default_flavor":
			o.DefaultFlavor = v
		case "default_image":
			o.DefaultImage = v
		case "services":
			o.Services = strings.Split(v, ",")
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("backend %q: timeout %q is not a positive duration such as 5m", raw, v)
			}
			o.Timeout = d
		default:
			return o, fmt.Errorf("backend %q: unknown parameter %q", raw, k)
		}
	}
	return o, nil
}

// authConfig is the Keystone configuration Open resolved.
type authConfig struct {
	auth gophercloud.AuthOptions
	eo   gophercloud.EndpointOpts
	tls  *tls.Config
}

// resolveAuth reads clouds.yaml (when o.Cloud is set) or the OS_*
// environment and applies the overrides in o.
func resolveAuth(o Options) (authConfig, error) {
	var c authConfig
	if o.Cloud != "" {
		ao, eo, tlsConf, err := clouds.Parse(clouds.WithCloudName(o.Cloud))
		if err != nil {
			return c, fmt.Errorf("clouds.yaml: %w", err)
		}
		c.auth, c.eo, c.tls = ao, eo, tlsConf
	} else {
		var err error
		c.auth, c.eo, c.tls, err = authFromEnv(o.TokenOnly)
		if err != nil {
			return c, err
		}
	}
	if o.AuthURL != "" {
		c.auth.IdentityEndpoint = o.AuthURL
	}
	if o.Region != "" {
		c.eo.Region = o.Region
	}
	if o.Interface != "" {
		c.eo.Availability = availability(o.Interface)
	}
	if c.auth.IdentityEndpoint == "" {
		return c, fmt.Errorf("no Keystone URL: set OS_AUTH_URL, auth_url in clouds.yaml, or Options.AuthURL")
	}
	return c, nil
}

func availability(s string) gophercloud.Availability {
	switch strings.TrimSuffix(strings.ToLower(s), "url") {
	case "internal":
		return gophercloud.AvailabilityInternal
	case "admin":
		return gophercloud.AvailabilityAdmin
	default:
		return gophercloud.AvailabilityPublic
	}
}

// authFromEnv reads the variables an openrc file exports, including the
// user and project domains that python-openstackclient understands.
func authFromEnv(tokenOnly bool) (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, error) {
	env := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	ao := gophercloud.AuthOptions{
		IdentityEndpoint:            env("OS_AUTH_URL"),
		Username:                    env("OS_USERNAME"),
		UserID:                      env("OS_USER_ID", "OS_USERID"),
		Password:                    env("OS_PASSWORD"),
		DomainName:                  env("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
		DomainID:                    env("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
		ApplicationCredentialID:     env("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialName:   env("OS_APPLICATION_CREDENTIAL_NAME"),
		ApplicationCredentialSecret: env("OS_APPLICATION_CREDENTIAL_SECRET"),
		TokenID:                     env("OS_TOKEN"),
	}
	eo := gophercloud.EndpointOpts{Region: env("OS_REGION_NAME"), Availability: availability(env("OS_INTERFACE", "OS_ENDPOINT_TYPE"))}
	if ao.IdentityEndpoint == "" {
		return ao, eo, nil, fmt.Errorf("OS_AUTH_URL is not set: source an openrc file or name a cloud from clouds.yaml")
	}
	if !tokenOnly {
		if ao.Username == "" && ao.UserID == "" && ao.ApplicationCredentialID == "" && ao.TokenID == "" {
			return ao, eo, nil, fmt.Errorf("OS_USERNAME (or OS_USER_ID, OS_APPLICATION_CREDENTIAL_ID, OS_TOKEN) is not set")
		}
		if ao.Password == "" && ao.ApplicationCredentialSecret == "" && ao.TokenID == "" {
			return ao, eo, nil, fmt.Errorf("OS_PASSWORD (or OS_APPLICATION_CREDENTIAL_SECRET) is not set")
		}
	}
	if ao.Username != "" && ao.DomainName == "" && ao.DomainID == "" {
		ao.DomainID = "default" // as the OpenStack clients assume
	}
	if ao.ApplicationCredentialID == "" {
		if p := env("OS_PROJECT_ID", "OS_TENANT_ID"); p != "" {
			ao.Scope = &gophercloud.AuthScope{ProjectID: p}
		} else if p := env("OS_PROJECT_NAME", "OS_TENANT_NAME"); p != "" {
			ao.Scope = &gophercloud.AuthScope{
				ProjectName: p,
				DomainName:  env("OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
				DomainID:    env("OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_ID"),
			}
			if ao.Scope.DomainName == "" && ao.Scope.DomainID == "" {
				ao.Scope.DomainID = "default"
			}
		}
	}
	var tlsConf *tls.Config
	if ca := env("OS_CACERT"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return ao, eo, nil, fmt.Errorf("OS_CACERT: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return ao, eo, nil, fmt.Errorf("OS_CACERT %s holds no PEM certificate", ca)
		}
		tlsConf = &tls.Config{RootCAs: pool}
	}
	if v := env("OS_INSECURE"); v == "true" || v == "1" {
		if tlsConf == nil {
			tlsConf = &tls.Config{}
		}
		tlsConf.InsecureSkipVerify = true
	}
	return ao, eo, tlsConf, nil
}
