package tlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/chaintest"
)

// writeSpanChain writes a chain of n span entries whose bodies hold
// characters that JSON encoders escape in more than one way.
func writeSpanChain(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	c := chaintest.OpenChain(t, path)
	var recs []bijotel.Record
	for i := range n {
		s := &bijotel.Span{
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Name: "chat gpt-4o", Kind: "CLIENT",
			StartTimeUnixNano: 1779523300000000000 + uint64(i), EndTimeUnixNano: 1779523301000000000 + uint64(i),
			Attributes: []bijotel.Attribute{
				{Key: "gen_ai.operation.name", Value: "chat"},
				{Key: "gen_ai.request.model", Value: "gpt-4o"},
				{Key: "gen_ai.input.messages", Value: `[{"role":"user","parts":[{"type":"text","content":"a <b> & \"c\" \u001b é 𝄞 \u2028"}]}]`},
				{Key: "gen_ai.usage.input_tokens", Value: int64(12 + i)},
			},
		}
		r, err := bijotel.SpanRecord(s)
		if err != nil {
			t.Fatalf("SpanRecord: %v", err)
		}
		recs = append(recs, r)
	}
	if _, err := c.Append(context.Background(), recs); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return path
}

func proveFile(t testing.TB, path string, seq int64, cp *Checkpoint) []byte {
	t.Helper()
	c := openReadOnly(t, path)
	b, err := Prove(context.Background(), c, seq, cp)
	if err != nil {
		t.Fatalf("Prove(%d): %v", seq, err)
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return data
}

func TestBundleVerifiesWithPublicKeyAlone(t *testing.T) {
	path := writeSpanChain(t, 21)
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	for _, seq := range []int64{1, 2, 7, 16, 21} {
		data := proveFile(t, path, seq, cp)
		got, err := VerifyBundle(data, k.verifier, "")
		if err != nil {
			t.Fatalf("VerifyBundle(seq %d): %v", seq, err)
		}
		if got.Entry.Seq != seq || got.Checkpoint.Size != 21 {
			t.Errorf("VerifyBundle = seq %d in size %d, want seq %d in size 21", got.Entry.Seq, got.Checkpoint.Size, seq)
		}
	}

	other := newKeys(t, "log.example")
	if _, err := VerifyBundle(proveFile(t, path, 3, cp), other.verifier, ""); !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("VerifyBundle with another key: error = %v, want ErrInvalidBundle", err)
	}
}

// Every single-bit change anywhere in the file must be rejected: in the
// entry, the proof, the checkpoint and its signature, and the JSON syntax.
func TestBundleRejectsEveryBitFlip(t *testing.T) {
	path := writeSpanChain(t, 21)
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	data := proveFile(t, path, 13, cp)
	if _, err := VerifyBundle(data, k.verifier, ""); err != nil {
		t.Fatalf("VerifyBundle of the intact bundle: %v", err)
	}

	flipped := bytes.Clone(data)
	accepted := 0
	for i := range data {
		for bit := range 8 {
			flipped[i] ^= 1 << bit
			if _, err := VerifyBundle(flipped, k.verifier, ""); err == nil {
				accepted++
				if accepted <= 5 {
					t.Errorf("VerifyBundle accepted bit %d of byte %d flipped (%q -> %q)", bit, i, data[i], flipped[i])
				}
			}
			flipped[i] = data[i]
		}
	}
	if accepted > 0 {
		t.Errorf("%d of %d single-bit changes were accepted", accepted, len(data)*8)
	}
	t.Logf("%d single-bit changes of a %d-byte bundle, all rejected", len(data)*8, len(data))
}

func TestBundleRejectsEditedFields(t *testing.T) {
	path := writeSpanChain(t, 9)
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	data := proveFile(t, path, 4, cp)

	edits := map[string]func(b *Bundle){
		"body": func(b *Bundle) {
			s := strings.Replace(*b.Entry.CanonicalBody, "gpt-4o", "gpt-4O", 1)
			b.Entry.CanonicalBody = &s
		},
		"body and hash": func(b *Bundle) {
			s := *b.Entry.CanonicalBody + " "
			b.Entry.CanonicalBody = &s
			b.Entry.CanonicalHash = bijotel.CanonicalHash([]byte(s))
		},
		"span_name":       func(b *Bundle) { b.Entry.SpanName = "other" },
		"trace_id column": func(b *Bundle) { b.Entry.TraceID = strings.Repeat("0", 32) },
		"hmac_hash":       func(b *Bundle) { b.Entry.HMACHash = strings.Repeat("0", 64) },
		"semantic hash":   func(b *Bundle) { b.Entry.SemanticBodyHash = "" },
		"seq":             func(b *Bundle) { b.Entry.Seq++; b.LeafIndex++ },
		"leaf_index":      func(b *Bundle) { b.LeafIndex++ },
		"tree_size":       func(b *Bundle) { b.TreeSize-- },
		"proof dropped":   func(b *Bundle) { b.InclusionProof = b.InclusionProof[1:] },
		"proof swapped":   func(b *Bundle) { p := b.InclusionProof; p[0], p[1] = p[1], p[0] },
		"no checkpoint":   func(b *Bundle) { b.Checkpoint = "" },
		"format":          func(b *Bundle) { b.Format = "bijotel-proof-bundle/v2" },
		"body as base64": func(b *Bundle) {
			s := "e30="
			b.Entry.CanonicalBodyBase64 = &s
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			var b Bundle
			if err := json.Unmarshal(data, &b); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			edit(&b)
			edited, err := b.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if _, err := VerifyBundle(edited, k.verifier, ""); !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("VerifyBundle error = %v, want ErrInvalidBundle", err)
			}
		})
	}

	// The same content in another JSON layout is not the bundle that was
	// issued.
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if _, err := VerifyBundle(compact.Bytes(), k.verifier, ""); !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("VerifyBundle of the compacted bundle: error = %v, want ErrInvalidBundle", err)
	}
}

func TestBundleOfNonUTF8Body(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	chaintest.AppendRows(t, path, 1, func(int) string { return "{\"raw\":\"\xff\xfe\"}" })
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	data := proveFile(t, path, 6, cp)
	if !bytes.Contains(data, []byte(`"canonical_body_base64": "eyJyYXciOiL//iJ9"`)) {
		t.Errorf("bundle does not carry the body in base64:\n%s", data)
	}
	got, err := VerifyBundle(data, k.verifier, "")
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	if string(got.Entry.CanonicalBody) != "{\"raw\":\"\xff\xfe\"}" {
		t.Errorf("body = %q", got.Entry.CanonicalBody)
	}
}

func TestProveRejectsCheckpointOfAnotherLog(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	other := writeSpanChain(t, 5)
	k := newKeys(t, "log.example")
	cp := signFile(t, other, k)
	c := openReadOnly(t, path)
	if _, err := Prove(context.Background(), c, 2, cp); err == nil {
		t.Errorf("Prove against another log's checkpoint succeeded, want an error")
	}
	if _, err := ProveAt(context.Background(), c, 6, 5); !errors.Is(err, bijotel.ErrBeyondTree) {
		t.Errorf("ProveAt beyond the tree: error = %v, want ErrBeyondTree", err)
	}
}
