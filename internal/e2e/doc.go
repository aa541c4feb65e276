// Package e2e holds the end-to-end tests: the real app (real SQLite file,
// real HTTP server on loopback, NeoX sandbox) driven by headless Chromium.
package e2e
