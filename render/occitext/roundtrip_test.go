package occitext_test

import (
	"testing"

	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

func TestRoundTrip(t *testing.T) {
	f := rendertest.Fidelity{Text: true, CollectionLocations: true}
	t.Run("text/plain", func(t *testing.T) { rendertest.Run(t, occitext.Plain(), f) })
	t.Run("text/occi", func(t *testing.T) { rendertest.Run(t, occitext.Headers(), f) })
}
