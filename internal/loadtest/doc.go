// Package loadtest drives the real application (HTTP server, SQLite,
// refund worker and NeoX sandbox, all on loopback) with concurrent staff,
// managers and NeoX webhooks, and measures latency per route, throughput,
// the refund pipeline (approved → NeoX → final) and two baselines measured
// in the same run: a bare net/http handler and a bare SQLite insert.
//
// Everything lives in the package's tests:
//
//	go test ./internal/loadtest/                  # CI variant: small fixture, a few seconds, invariants only
//	go test ./internal/loadtest/ -run TestLoad -loadtest -timeout 60m -v
//	                                              # full run: 1M refunds + 5M audit events, 1/10/50 users
//
// The full run builds its fixture database once and caches it under
// os.TempDir() (keyed by the schema migrations and the fixture version),
// copies it for each run, and writes its results to docs/loadtest.json and
// the latency chart to docs/latency.svg. BENCHMARKS.md holds the numbers.
//
// With STORE_TEST_DIALECT=postgres (and TEST_DATABASE_URL naming a server
// whose user may create databases) the same runs go to PostgreSQL, with two
// app instances on one database, each request to the next instance in turn,
// both calling one sandbox. The fixture is copied once from the SQLite one
// by store.CopyToPostgres into a template database, which every run clones;
// the full run writes docs/loadtest-postgres.json and docs/latency-postgres.svg.
package loadtest
