package occitext_test

import (
	"testing"

	"github.com/occid/occi/render/occitext"
	"github.com/occid/occi/render/rendertest"
)

func BenchmarkPlain(b *testing.B)   { rendertest.Bench(b, occitext.Plain()) }
func BenchmarkHeaders(b *testing.B) { rendertest.Bench(b, occitext.Headers()) }
