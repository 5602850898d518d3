package urilist_test

import (
	"testing"

	"github.com/occid/occi/render/rendertest"
	"github.com/occid/occi/render/urilist"
)

func BenchmarkURIList(b *testing.B) { rendertest.Bench(b, urilist.New()) }
