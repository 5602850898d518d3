package simbackend_test

import (
	"fmt"
	"testing"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/backend/simbackend"
)

// BenchmarkLifecycle measures one compute's create, start, stop and delete,
// in memory and with the state file rewritten after every change.
func BenchmarkLifecycle(b *testing.B) {
	for _, mode := range []string{"memory", "dir"} {
		b.Run(mode, func(b *testing.B) {
			opts := simbackend.Options{}
			if mode == "dir" {
				opts.Dir = b.TempDir()
			}
			d, err := simbackend.Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			for i := 0; b.Loop(); i++ {
				c := &occi.Entity{Location: fmt.Sprintf("/compute/%d", i), Kind: computeKind}
				obs, err := d.Create(ctx, backend.CreateRequest{Entity: c, OSTemplate: "tinyos"})
				if err != nil {
					b.Fatal(err)
				}
				c.BackendRef = obs.Ref
				for _, term := range []string{"start", "stop"} {
					if _, err := d.Act(ctx, c, action("compute", term), nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := d.Delete(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
