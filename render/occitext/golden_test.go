package occitext_test

import (
	"testing"

	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

func TestGolden(t *testing.T) {
	t.Run("text/plain", func(t *testing.T) {
		rendertest.GoldenAll(t, occitext.Plain(), "testdata/golden/plain", "txt", rendertest.BodyOnly)
	})
	t.Run("text/occi", func(t *testing.T) {
		rendertest.GoldenAll(t, occitext.Headers(), "testdata/golden/occi", "txt", rendertest.HeadersAndBody)
	})
}
