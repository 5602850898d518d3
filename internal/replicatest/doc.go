// Package replicatest checks issue 5's two-replica requirement end to end:
// two occid processes on one PostgreSQL database. A change made through one
// is seen through the other at once, and concurrent updates of one entity
// through both never lose one silently: with If-Match of the same ETag
// exactly one wins and the other gets 412, without If-Match each update is
// either applied or answered 409. It builds cmd/occid and starts both
// processes on loopback ports, each with its own data directory and a fresh
// schema of the database named by OCCID_TEST_POSTGRES (skipped without it).
//
// Limit: each process runs its own in-memory simulator (sim://?memory=true),
// so infrastructure entities (computes, networks, storage) exist in one
// process's backend only. The test therefore uses what needs no backend:
// plain core resources at /resource/ (records only), user mixins (tags) and
// their association. A multi-replica deployment runs on a shared backend
// (libvirt or OpenStack), where every process sees the same machines.
//
//	OCCID_TEST_POSTGRES=postgres://... go test -count=1 -v ./internal/replicatest/
package replicatest
