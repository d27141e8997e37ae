package bijotel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// GenesisHash is the prev_hash of the first entry of every chain: 64 zeros.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// MinSecretLen is the shortest HMAC secret, in bytes, that Open, Verify and
// the CLI accept. Secrets made by ParseSecret's counterpart, bijotel keygen,
// are 32 bytes.
const MinSecretLen = 16

// CanonicalHash returns hex(SHA-256(body)), the canonical_hash column of an
// entry whose canonical_body is body.
func CanonicalHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// EntryHMAC returns hex(HMAC-SHA256(secret, prevHash || canonicalHash)), the
// hmac_hash column of an entry. Both hashes are the lowercase hex strings
// stored in the chain, taken as ASCII bytes.
func EntryHMAC(secret []byte, prevHash, canonicalHash string) string {
	return newLinker(secret).link(prevHash, canonicalHash)
}

// ParseSecret decodes a hex HMAC secret. The error never contains any part of
// the input, because the input is a secret.
func ParseSecret(hexSecret string) ([]byte, error) {
	if hexSecret == "" {
		return nil, fmt.Errorf("%w: the secret is empty", ErrInvalidSecret)
	}
	secret, err := hex.DecodeString(hexSecret)
	if err != nil {
		return nil, fmt.Errorf("%w: not a hex string (%d characters given)", ErrInvalidSecret, len(hexSecret))
	}
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d (bijotel keygen makes 32)", ErrInvalidSecret, len(secret), MinSecretLen)
	}
	return secret, nil
}

// linker computes entry HMACs with one reusable hash state. A linker is not
// safe for concurrent use.
type linker struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

func newLinker(secret []byte) *linker {
	return &linker{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
}

func (l *linker) link(prevHash, canonicalHash string) string {
	l.mac.Reset()
	l.buf = append(append(l.buf[:0], prevHash...), canonicalHash...)
	l.mac.Write(l.buf)
	l.sum = l.mac.Sum(l.sum[:0])
	return hex.EncodeToString(l.sum)
}
