package tlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// ErrInvalidCheckpoint is wrapped by errors about a checkpoint that is
// malformed or not signed by the expected key.
var ErrInvalidCheckpoint = errors.New("invalid checkpoint")

// Checkpoint is a signed checkpoint of a chain's Merkle tree.
type Checkpoint struct {
	// Origin names the log; by default it is the signer's key name.
	Origin string
	// Size is the number of entries the tree covers: seq 1 to Size.
	Size uint64
	// Root is the RFC 6962 root hash of the tree of Size entries.
	Root []byte
	// Signed is the complete signed note, as written to a file.
	Signed []byte
}

// GenerateKey returns a new Ed25519 signer key and its verifier key, in the
// signed-note formats, for the key name name. The name is also the default
// origin of the checkpoints the key signs; it must not be empty or contain
// spaces or plus signs.
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	if name == "" || strings.ContainsAny(name, "+ \t\r\n") {
		return "", "", fmt.Errorf("invalid key name %q: need a non-empty name without spaces or '+', such as audit.example.com/chain", name)
	}
	signerKey, verifierKey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("generate key %q: %w", name, err)
	}
	return signerKey, verifierKey, nil
}

// NewSigner parses a signer key; surrounding white space is ignored. The
// error never contains the key.
func NewSigner(signerKey string) (note.Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(signerKey))
	if err != nil {
		return nil, errors.New("invalid signer key: need a PRIVATE+KEY+name+hash+key line from bijotel keygen --signer")
	}
	return s, nil
}

// NewVerifier parses a verifier key; surrounding white space is ignored.
func NewVerifier(verifierKey string) (note.Verifier, error) {
	key := strings.TrimSpace(verifierKey)
	if strings.HasPrefix(key, "PRIVATE+KEY+") {
		// Never echo a signer key: it is a secret.
		return nil, errors.New("invalid verifier key: this is a signer (private) key; pass the verifier key that bijotel keygen --signer wrote beside it")
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("invalid verifier key %q: need a name+hash+key line from bijotel keygen --signer: %w", key, err)
	}
	return v, nil
}

// Sign brings the chain's Merkle tree up to date with SyncTree, so the
// chain must be open for writing or with bijotel.OpenForTree, and signs a
// checkpoint of all its entries. origin "" means the signer's name. It
// reads the root from the stored tree; bijotel verify --checkpoint checks
// it against the rows.
func Sign(ctx context.Context, chain *bijotel.Chain, signer note.Signer, origin string) (*Checkpoint, error) {
	size, err := chain.SyncTree(ctx)
	if err != nil {
		return nil, err
	}
	root, err := chain.TreeRoot(ctx, size)
	if err != nil {
		return nil, err
	}
	return SignRoot(signer, origin, size, root)
}

// SignRoot signs a checkpoint of a tree of size entries with the given root.
func SignRoot(signer note.Signer, origin string, size uint64, root []byte) (*Checkpoint, error) {
	if origin == "" {
		origin = signer.Name()
	}
	if strings.ContainsAny(origin, "\n") || strings.TrimSpace(origin) == "" {
		return nil, fmt.Errorf("invalid origin %q: need one non-empty line", origin)
	}
	body := log.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return &Checkpoint{Origin: origin, Size: size, Root: bytes.Clone(root), Signed: signed}, nil
}

// Open checks that signed is a checkpoint signed by verifier and returns
// it. origin "" accepts any origin; otherwise the checkpoint's origin must
// equal it. Signatures by other keys, such as witness cosignatures, are
// ignored. The error wraps ErrInvalidCheckpoint.
func Open(signed []byte, verifier note.Verifier, origin string) (*Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("%w: no signature by key %s", ErrInvalidCheckpoint, verifier.Name())
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidCheckpoint, err)
	}
	for _, sig := range n.Sigs {
		// note.Open decodes base64 leniently, ignoring the unused low bits of
		// the last character; accept only the one encoding of the signature.
		if _, err := base64.StdEncoding.Strict().DecodeString(sig.Base64); err != nil {
			return nil, fmt.Errorf("%w: signature by %s is not canonical base64", ErrInvalidCheckpoint, sig.Name)
		}
	}
	cp, err := parseBody(n.Text)
	if err != nil {
		return nil, err
	}
	if origin != "" && cp.Origin != origin {
		return nil, fmt.Errorf("%w: origin is %q, expected %q", ErrInvalidCheckpoint, cp.Origin, origin)
	}
	cp.Signed = bytes.Clone(signed)
	return cp, nil
}

// ParseUnverified reads the body of a signed checkpoint without checking any
// signature, for a log that proves entries against its own checkpoint.
func ParseUnverified(signed []byte) (*Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, fmt.Errorf("%w: not a signed note", ErrInvalidCheckpoint)
	}
	n = unverified.Note
	cp, err := parseBody(n.Text)
	if err != nil {
		return nil, err
	}
	cp.Signed = bytes.Clone(signed)
	return cp, nil
}

func parseBody(text string) (*Checkpoint, error) {
	var body log.Checkpoint
	if _, err := body.Unmarshal([]byte(text)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCheckpoint, err)
	}
	if len(body.Hash) != bijotel.TreeHashSize {
		return nil, fmt.Errorf("%w: root hash is %d bytes, want %d", ErrInvalidCheckpoint, len(body.Hash), bijotel.TreeHashSize)
	}
	// The size and root lines have one encoding each, so that two texts never
	// stand for one checkpoint.
	if !strings.HasPrefix(text, string(body.Marshal())) {
		return nil, fmt.Errorf("%w: size or root hash is not in canonical form", ErrInvalidCheckpoint)
	}
	return &Checkpoint{Origin: body.Origin, Size: body.Size, Root: body.Hash}, nil
}

// VerifierKeyOf returns the verifier key of an Ed25519 signer key. The error
// never contains the signer key.
func VerifierKeyOf(signerKey string) (string, error) {
	errInvalid := errors.New("invalid signer key: need a PRIVATE+KEY+name+hash+key line from bijotel keygen --signer")
	if _, err := note.NewSigner(strings.TrimSpace(signerKey)); err != nil {
		return "", errInvalid
	}
	// The format is PRIVATE+KEY+name+hash+base64(0x01 ‖ 32-byte seed), and
	// note.NewSigner has just checked it. The base64 may contain '+'.
	rest := strings.TrimPrefix(strings.TrimSpace(signerKey), "PRIVATE+KEY+")
	name, rest, _ := strings.Cut(rest, "+")
	_, key64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errInvalid
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(name, pub)
}
