// Package whatsapp checks and parses Meta's WhatsApp Cloud API webhooks. It is pure: no AWS, no
// I/O, so the webhook handler, tools and fuzzers share it.
//
// The handler's order of work:
//
//  1. GET handshake: VerifyHandshake(mode, token, configured) then echo hub.challenge.
//  2. POST: VerifySignature(appSecret, rawBody, header) (or a Verifier's Verify) on the exact
//     bytes received.
//  3. DecodeNotification(rawBody): a *ParseError means "not a WhatsApp notification": park it.
//     It decodes the envelope and every change value in one typed pass (ParseNotification
//     decodes the envelope alone and keeps each value raw; both give the same results).
//     The commonest body, text messages in one messages change, is first decoded by hand
//     (fastdecode.go), which takes only a strict subset of JSON and leaves anything else to
//     encoding/json; FuzzDecodeNotification holds all three paths to one result.
//  4. For each entry and change: change.Decode() and a type switch on the result
//     (*MessagesValue, *AccountUpdate, ..., *KnownIgnored, *UnknownField). A *DecodeError
//     concerns that change only.
//
// Meta's JSON is loose (timestamps as strings or numbers, ids as numbers, limits as TIER_* names
// or numbers, nulls); the types in flex.go absorb that so callers see one shape.
package whatsapp
