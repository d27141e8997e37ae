package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// BundleFormat is the format field of a proof bundle.
const BundleFormat = "bijotel-proof-bundle/v1"

// ErrInvalidBundle is wrapped by every error of VerifyBundle that is about
// the bundle rather than the verifier key.
var ErrInvalidBundle = errors.New("invalid proof bundle")

// Bundle proves that one entry is in a chain whose tree a signed checkpoint
// commits to. It holds everything the check needs except the log's verifier
// key: the entry as stored, the inclusion proof and the checkpoint.
type Bundle struct {
	Format string      `json:"format"`
	Entry  BundleEntry `json:"entry"`
	// LeafIndex is Entry.Seq - 1.
	LeafIndex uint64 `json:"leaf_index"`
	// TreeSize is the checkpoint's size, which the proof is relative to.
	TreeSize uint64 `json:"tree_size"`
	// InclusionProof lists the RFC 6962 proof hashes, in standard base64,
	// from the leaf's sibling up.
	InclusionProof []string `json:"inclusion_proof"`
	// Checkpoint is the signed checkpoint text. A proof served for an
	// explicit size that has no stored checkpoint leaves it empty, and the
	// holder of that checkpoint fills it in.
	Checkpoint string `json:"checkpoint"`
}

// BundleEntry is one chain row. NULL columns are empty strings, as in the
// leaf encoding. The body is in CanonicalBody when it is valid UTF-8, as
// every body bijotel and Python BIJOTEL seal is, and in standard base64 in
// CanonicalBodyBase64 otherwise.
type BundleEntry struct {
	Seq                 int64   `json:"seq"`
	TimestampNS         int64   `json:"timestamp_ns"`
	TraceID             string  `json:"trace_id"`
	SpanID              string  `json:"span_id"`
	SpanName            string  `json:"span_name"`
	SpanKind            string  `json:"span_kind"`
	CanonicalBody       *string `json:"canonical_body,omitempty"`
	CanonicalBodyBase64 *string `json:"canonical_body_base64,omitempty"`
	CanonicalHash       string  `json:"canonical_hash"`
	PrevHash            string  `json:"prev_hash"`
	HMACHash            string  `json:"hmac_hash"`
	SemanticBodyHash    string  `json:"semantic_body_hash"`
}

func bundleEntry(e *bijotel.Entry) BundleEntry {
	be := BundleEntry{
		Seq: e.Seq, TimestampNS: e.TimestampNS, TraceID: e.TraceID, SpanID: e.SpanID,
		SpanName: e.SpanName, SpanKind: e.SpanKind, CanonicalHash: e.CanonicalHash,
		PrevHash: e.PrevHash, HMACHash: e.HMACHash, SemanticBodyHash: e.SemanticBodyHash,
	}
	if utf8.Valid(e.CanonicalBody) {
		s := string(e.CanonicalBody)
		be.CanonicalBody = &s
	} else {
		s := base64.StdEncoding.EncodeToString(e.CanonicalBody)
		be.CanonicalBodyBase64 = &s
	}
	return be
}

// entry returns the row that be describes.
func (be *BundleEntry) entry() (*bijotel.Entry, error) {
	e := &bijotel.Entry{
		Seq: be.Seq, TimestampNS: be.TimestampNS, TraceID: be.TraceID, SpanID: be.SpanID,
		SpanName: be.SpanName, SpanKind: be.SpanKind, CanonicalHash: be.CanonicalHash,
		PrevHash: be.PrevHash, HMACHash: be.HMACHash, SemanticBodyHash: be.SemanticBodyHash,
	}
	switch {
	case be.CanonicalBody != nil && be.CanonicalBodyBase64 == nil:
		e.CanonicalBody = []byte(*be.CanonicalBody)
	case be.CanonicalBody == nil && be.CanonicalBodyBase64 != nil:
		body, err := base64.StdEncoding.Strict().DecodeString(*be.CanonicalBodyBase64)
		if err != nil {
			return nil, fmt.Errorf("entry canonical_body_base64: %w", err)
		}
		e.CanonicalBody = body
	default:
		return nil, errors.New("entry needs exactly one of canonical_body and canonical_body_base64")
	}
	return e, nil
}

// ProveAt returns a bundle for the entry seq against the tree of the first
// size entries, read from the stored tree, with no checkpoint. It checks the
// entry's own hashes and that the proof leads to the stored root, so a
// damaged tree table gives an error rather than a bundle that fails later.
func ProveAt(ctx context.Context, chain *bijotel.Chain, seq int64, size uint64) (*Bundle, error) {
	if seq < 1 || uint64(seq) > size {
		return nil, fmt.Errorf("seq %d is not in the tree of size %d: %w", seq, size, bijotel.ErrBeyondTree)
	}
	e, err := chain.Entry(ctx, seq)
	if err != nil {
		return nil, err
	}
	if err := bijotel.CheckEntry(e); err != nil {
		return nil, fmt.Errorf("seq %d cannot be proved: %w", seq, err)
	}
	hashes, err := chain.InclusionProof(ctx, uint64(seq-1), size)
	if err != nil {
		return nil, err
	}
	root, err := chain.TreeRoot(ctx, size)
	if err != nil {
		return nil, err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(seq-1), size, bijotel.LeafHash(e), hashes, root); err != nil {
		return nil, fmt.Errorf("seq %d: the stored merkle tree does not match the row (%w); bijotel verify --checkpoint tells whether the chain or the tree table was changed", seq, err)
	}
	b := &Bundle{
		Format:         BundleFormat,
		Entry:          bundleEntry(e),
		LeafIndex:      uint64(seq - 1),
		TreeSize:       size,
		InclusionProof: encodeHashes(hashes),
	}
	return b, nil
}

// Prove returns a bundle for the entry seq against the checkpoint cp. The
// stored tree must have cp's root at cp's size, which a checkpoint of
// another log, or a tree table edited since, does not.
func Prove(ctx context.Context, chain *bijotel.Chain, seq int64, cp *Checkpoint) (*Bundle, error) {
	stored, err := chain.TreeRoot(ctx, cp.Size)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(stored, cp.Root) {
		return nil, fmt.Errorf("the stored merkle tree has another root at size %d than the checkpoint: the checkpoint is from another log, or the chain or its tree changed since (run bijotel verify --checkpoint)", cp.Size)
	}
	b, err := ProveAt(ctx, chain, seq, cp.Size)
	if err != nil {
		return nil, err
	}
	b.Checkpoint = string(cp.Signed)
	return b, nil
}

// Marshal returns the bundle as indented JSON with a final newline. It is
// the only encoding VerifyBundle accepts.
func (b *Bundle) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Verified is the content of a bundle that VerifyBundle accepted.
type Verified struct {
	Entry      *bijotel.Entry
	Checkpoint *Checkpoint
}

// VerifyBundle checks a bundle with the log's verifier key alone, with
// neither the chain nor the HMAC secret:
//
//  1. the bundle is exactly in the encoding Marshal writes, so that no byte
//     of it can change unnoticed;
//  2. the checkpoint is signed by verifier (and has origin, unless origin
//     is "");
//  3. canonical_hash is SHA-256 of the body, and the columns that a span
//     body repeats agree with it;
//  4. the leaf hash recomputed from the entry, at index seq-1, leads
//     through the inclusion proof to the checkpoint's root.
//
// An entry that passes was in the log when the checkpoint was signed. The
// HMAC is not checked: it needs the secret, and the tree binds prev_hash
// and hmac_hash as stored.
func VerifyBundle(data []byte, verifier note.Verifier, origin string) (*Verified, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalidBundle)
	}
	canonical, err := b.Marshal()
	if err != nil || !bytes.Equal(canonical, data) {
		return nil, fmt.Errorf("%w: not in the encoding bijotel prove writes (the file was edited)", ErrInvalidBundle)
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("%w: format %q, expected %q", ErrInvalidBundle, b.Format, BundleFormat)
	}
	if b.Checkpoint == "" {
		return nil, fmt.Errorf("%w: no checkpoint; add the signed checkpoint of size %d", ErrInvalidBundle, b.TreeSize)
	}

	cp, err := Open([]byte(b.Checkpoint), verifier, origin)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if b.TreeSize != cp.Size {
		return nil, fmt.Errorf("%w: tree_size %d differs from the checkpoint's size %d", ErrInvalidBundle, b.TreeSize, cp.Size)
	}
	e, err := b.Entry.entry()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if e.Seq < 1 || b.LeafIndex != uint64(e.Seq-1) || b.LeafIndex >= cp.Size {
		return nil, fmt.Errorf("%w: leaf_index %d does not match seq %d in a tree of size %d", ErrInvalidBundle, b.LeafIndex, e.Seq, cp.Size)
	}
	if err := bijotel.CheckEntry(e); err != nil {
		return nil, fmt.Errorf("%w: entry seq %d: %w", ErrInvalidBundle, e.Seq, err)
	}

	hashes, err := DecodeHashes(b.InclusionProof)
	if err != nil {
		return nil, fmt.Errorf("%w: inclusion_proof: %w", ErrInvalidBundle, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, b.LeafIndex, cp.Size, bijotel.LeafHash(e), hashes, cp.Root); err != nil {
		return nil, fmt.Errorf("%w: entry seq %d is not in the checkpointed tree: %w", ErrInvalidBundle, e.Seq, err)
	}
	return &Verified{Entry: e, Checkpoint: cp}, nil
}

// DecodeHashes decodes proof hashes written in standard base64, accepting
// only the canonical encoding of TreeHashSize bytes each.
func DecodeHashes(in []string) ([][]byte, error) {
	out := make([][]byte, len(in))
	for i, s := range in {
		h, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("hash %d: %w", i, err)
		}
		if len(h) != bijotel.TreeHashSize {
			return nil, fmt.Errorf("hash %d is %d bytes, want %d", i, len(h), bijotel.TreeHashSize)
		}
		out[i] = h
	}
	return out, nil
}

func encodeHashes(in [][]byte) []string {
	out := make([]string, len(in))
	for i, h := range in {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}
