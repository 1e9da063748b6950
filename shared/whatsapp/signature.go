package whatsapp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// SignatureHeader is the header carrying Meta's HMAC of the raw body ("sha256=<hex>").
// API Gateway payload 2.0 lower-cases header names, so look it up as "x-hub-signature-256" there.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Sentinel errors of VerifySignature. A caller maps ErrNoSecret to a 500 (configuration) and the
// others to a 401/403; errors.Is matches them through any wrapping.
var (
	// ErrNoSecret means the app secret is empty: the check is never skipped.
	ErrNoSecret = errors.New("whatsapp: app secret is empty")
	// ErrMissingSignature means the X-Hub-Signature-256 header is absent or blank.
	ErrMissingSignature = errors.New("whatsapp: missing " + SignatureHeader)
	// ErrMalformedSignature means the header is not "sha256=" followed by 64 hex digits.
	ErrMalformedSignature = errors.New("whatsapp: malformed " + SignatureHeader)
	// ErrBadSignature means the HMAC does not match the body.
	ErrBadSignature = errors.New("whatsapp: signature does not match body")
)

// VerifySignature checks header (the X-Hub-Signature-256 value) against the HMAC-SHA256 of the
// raw body keyed with the app secret, in constant time. body must be the exact bytes received
// (base64-decoded if API Gateway set isBase64Encoded), never re-serialised JSON: Meta signs its
// own escaping of non-ASCII text.
func VerifySignature(secret []byte, body []byte, header string) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	want, err := parseSignature(header)
	if err != nil {
		return err
	}
	if !hmac.Equal(mac(secret, body), want[:]) {
		return ErrBadSignature
	}
	return nil
}

// parseSignature reads the digest of an X-Hub-Signature-256 value.
func parseSignature(header string) (sum [sha256.Size]byte, err error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return sum, ErrMissingSignature
	}
	if len(header) < len(signaturePrefix) || !strings.EqualFold(header[:len(signaturePrefix)], signaturePrefix) {
		return sum, fmt.Errorf("%w: want %q prefix", ErrMalformedSignature, signaturePrefix)
	}
	hexSum := header[len(signaturePrefix):]
	if len(hexSum) != hex.EncodedLen(sha256.Size) {
		return sum, fmt.Errorf("%w: want %d hex digits, got %d characters", ErrMalformedSignature, hex.EncodedLen(sha256.Size), len(hexSum))
	}
	for i := range sum {
		hi, ok1 := fromHex(hexSum[2*i])
		lo, ok2 := fromHex(hexSum[2*i+1])
		if !ok1 || !ok2 {
			return sum, fmt.Errorf("%w: not hex", ErrMalformedSignature)
		}
		sum[i] = hi<<4 | lo
	}
	return sum, nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Verifier is VerifySignature for one secret, reusing keyed HMAC states (the webhook checks every
// POST with the same secret, and keying an HMAC costs two hashes and four allocations). Safe for
// concurrent use.
type Verifier struct {
	secret []byte
	pool   sync.Pool
}

// keyedMAC is a keyed HMAC and room for its sum.
type keyedMAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewVerifier returns a Verifier for secret (copied).
func NewVerifier(secret []byte) *Verifier {
	v := &Verifier{secret: bytes.Clone(secret)}
	v.pool.New = func() any { return &keyedMAC{h: hmac.New(sha256.New, v.secret)} }
	return v
}

// Verify is VerifySignature(secret, body, header), with the same errors.
func (v *Verifier) Verify(body []byte, header string) error {
	if len(v.secret) == 0 {
		return ErrNoSecret
	}
	want, err := parseSignature(header)
	if err != nil {
		return err
	}
	m := v.pool.Get().(*keyedMAC)
	defer v.pool.Put(m)
	m.h.Reset()
	m.h.Write(body)
	if !hmac.Equal(m.h.Sum(m.sum[:0]), want[:]) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value Meta would send for body ("sha256=<lower hex>").
// Tests, the sample-event generator and the load harness use it.
func Sign(secret, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, body))
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// VerifyToken compares the hub.verify_token of the GET handshake with the configured token in
// constant time (lengths included, by comparing digests). It is false when expected is empty, so
// an unset token never verifies.
func VerifyToken(expected, got string) bool {
	if expected == "" {
		return false
	}
	e := sha256.Sum256([]byte(expected))
	g := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(e[:], g[:]) == 1
}

// Handshake query parameters and the only mode Meta uses.
const (
	HubMode        = "hub.mode"
	HubVerifyToken = "hub.verify_token"
	HubChallenge   = "hub.challenge"
	ModeSubscribe  = "subscribe"
)

// VerifyHandshake checks a GET handshake: mode must be "subscribe" and token must match expected
// (see VerifyToken). On success the caller replies 200 with the raw hub.challenge as a text/plain
// body.
func VerifyHandshake(mode, token, expected string) bool {
	// Evaluate both so the timing does not reveal which one failed.
	okToken := VerifyToken(expected, token)
	return okToken && mode == ModeSubscribe
}
