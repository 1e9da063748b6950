package outbound

import _ "embed"

// Schema is the JSON Schema (Draft 2020-12) of Request, the contract internal systems enqueue
// against. Validate enforces the same rules in Go (plus numbering-plan checks on phone numbers,
// which a pattern cannot express); a test keeps the two in agreement.
//
//go:embed schema/request.schema.json
var Schema []byte
