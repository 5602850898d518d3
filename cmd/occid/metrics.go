package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/occid/occi"
	"github.com/occid/occi/store"
)

// entityCollector reports the number of stored entities of each kind the
// backend offers, counted by the store (an indexed count) at each scrape.
type entityCollector struct {
	st    store.Store
	kinds []occi.CategoryID
	desc  *prometheus.Desc
}

func newEntityCollector(st store.Store, kinds []occi.CategoryID) *entityCollector {
	return &entityCollector{st: st, kinds: kinds, desc: prometheus.NewDesc(
		"occid_entities", "Stored entities, by kind term.", []string{"kind"}, nil)}
}

func (c *entityCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *entityCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, k := range c.kinds {
		n, err := c.st.Count(ctx, store.Query{Kinds: []occi.CategoryID{k}})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.Term)
	}
}
