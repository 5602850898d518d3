package urilist_test

import (
	"testing"

	"github.com/occid/occi/render/rendertest"
	"github.com/occid/occi/render/urilist"
)

func TestGolden(t *testing.T) {
	rendertest.GoldenAll(t, urilist.New(), "testdata/golden", "txt", rendertest.BodyOnly)
}
