package occijson_test

import (
	"testing"

	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/rendertest"
)

func BenchmarkJSON(b *testing.B) { rendertest.Bench(b, occijson.New()) }
