// Package crashtest holds the crash test of occid's durable state: it
// builds cmd/occid, kills it with SIGKILL while 500 creates and a stream of
// actions are in flight, restarts it on the same data and checks that every
// create that got 201 and every action that got 200 is there and readable,
// and that no half-written entity exists. It runs once on the embedded
// SQLite store and once on PostgreSQL (when OCCID_TEST_POSTGRES is set).
//
//	go test -count=1 -v ./internal/crashtest/
package crashtest
