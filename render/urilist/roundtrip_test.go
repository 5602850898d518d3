package urilist_test

import (
	"testing"

	"github.com/occid/occi/render/rendertest"
	"github.com/occid/occi/render/urilist"
)

func TestRoundTrip(t *testing.T) {
	rendertest.Run(t, urilist.New(), rendertest.Fidelity{LocationsOnly: true})
}
