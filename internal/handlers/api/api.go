// Package api holds the refunds API's OpenAPI document, embedded so the
// binary serves the copy it was built with.
package api

import _ "embed"

// OpenAPI is the document served at GET /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
