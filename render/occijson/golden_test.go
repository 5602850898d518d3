package occijson_test

import (
	"testing"

	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/rendertest"
)

func TestGolden(t *testing.T) {
	rendertest.GoldenAll(t, occijson.New(), "testdata/golden", "json", rendertest.BodyOnly)
}
