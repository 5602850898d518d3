package occijson_test

import (
	"testing"

	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/rendertest"
)

func TestRoundTrip(t *testing.T) {
	rendertest.Run(t, occijson.New(), rendertest.Fidelity{})
}
