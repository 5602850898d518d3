package openstackbackend

import (
	"context"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/occid/occi"
)

// ConsoleOutput returns the serial console log of the compute's server
// (Nova's os-getConsoleOutput), e.g. to watch a guest boot.
func (d *Driver) ConsoleOutput(ctx context.Context, e *occi.Entity) (string, error) {
	c, err := d.clientsFor(ctx)
	if err != nil {
		return "", err
	}
	if e.Kind != kindCompute || e.BackendRef == "" {
		return "", occi.Errorf(occi.InvalidArgument, "%s is not a compute backed by a Nova server", e.Location)
	}
	out, err := servers.ShowConsoleOutput(ctx, c.compute, e.BackendRef, servers.ShowConsoleOutputOpts{}).Extract()
	if err != nil {
		return "", d.wrap(err, "nova", "read the console of server "+e.BackendRef)
	}
	return out, nil
}
