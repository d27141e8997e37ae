package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/internal/chaintest"
	"golang.org/x/mod/sumdb/note"
)

type testKeys struct {
	signer   note.Signer
	verifier note.Verifier
	skey     string
}

func newKeys(t testing.TB, name string) testKeys {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return testKeys{signer: s, verifier: v, skey: skey}
}

// signFile signs a checkpoint of the chain at path with a tree-only handle.
func signFile(t testing.TB, path string, k testKeys) *Checkpoint {
	t.Helper()
	c, err := bijotel.OpenForTree(path)
	if err != nil {
		t.Fatalf("OpenForTree: %v", err)
	}
	defer c.Close()
	cp, err := Sign(context.Background(), c, k.signer, "")
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	opened, err := Open(cp.Signed, k.verifier, "")
	if err != nil {
		t.Fatalf("Open of a fresh checkpoint: %v", err)
	}
	return opened
}

func openReadOnly(t testing.TB, path string) *bijotel.Chain {
	t.Helper()
	c, err := bijotel.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCheckpointOfPythonChain(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "audit.example.com/chain")
	cp := signFile(t, path, k)

	if cp.Size != 5 {
		t.Errorf("Size = %d, want 5", cp.Size)
	}
	if got := base64.StdEncoding.EncodeToString(cp.Root); got != chaintest.Root5 {
		t.Errorf("Root = %s, want %s", got, chaintest.Root5)
	}
	wantBody := "audit.example.com/chain\n5\n" + chaintest.Root5 + "\n\n— audit.example.com/chain "
	if !strings.HasPrefix(string(cp.Signed), wantBody) {
		t.Errorf("signed checkpoint = %q, want it to start with %q", cp.Signed, wantBody)
	}
}

func TestOpenRejectsWrongKeyAndOrigin(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)

	other := newKeys(t, "log.example")
	if _, err := Open(cp.Signed, other.verifier, ""); !errors.Is(err, ErrInvalidCheckpoint) {
		t.Errorf("Open with another key of the same name: error = %v, want ErrInvalidCheckpoint", err)
	}
	if _, err := Open(cp.Signed, k.verifier, "other.example"); !errors.Is(err, ErrInvalidCheckpoint) {
		t.Errorf("Open with another origin: error = %v, want ErrInvalidCheckpoint", err)
	}
	if _, err := Open(cp.Signed, k.verifier, "log.example"); err != nil {
		t.Errorf("Open with the right origin: %v", err)
	}
}

func TestOpenRejectsNonCanonicalSignature(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)

	// A signature line encodes 68 bytes: its last base64 character before
	// "=" carries 2 unused bits, which lenient decoders ignore.
	text := string(cp.Signed)
	i := strings.LastIndex(text, "=\n")
	last := text[i-1]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	v := strings.IndexByte(alphabet, last)
	changed := text[:i-1] + string(alphabet[v^1]) + text[i:]
	if _, err := Open([]byte(changed), k.verifier, ""); err == nil {
		t.Errorf("Open accepted a signature whose unused base64 bits were changed")
	}
}

func TestOpenRejectsNonCanonicalBody(t *testing.T) {
	k := newKeys(t, "log.example")
	root := bytes.Repeat([]byte{7}, 32)
	for name, body := range map[string]string{
		"leading zero": "log.example\n05\n" + base64.StdEncoding.EncodeToString(root) + "\n",
		"short root":   "log.example\n5\n" + base64.StdEncoding.EncodeToString(root[:31]) + "\n",
	} {
		signed, err := note.Sign(&note.Note{Text: body}, k.signer)
		if err != nil {
			t.Fatalf("note.Sign: %v", err)
		}
		if _, err := Open(signed, k.verifier, ""); !errors.Is(err, ErrInvalidCheckpoint) {
			t.Errorf("%s: Open error = %v, want ErrInvalidCheckpoint", name, err)
		}
	}
}

func TestVerifierKeyOf(t *testing.T) {
	skey, vkey, err := GenerateKey("log.example")
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	got, err := VerifierKeyOf(skey)
	if err != nil || got != vkey {
		t.Errorf("VerifierKeyOf = %q, %v; want %q", got, err, vkey)
	}
	if _, err := VerifierKeyOf("PRIVATE+KEY+x+00000000+AAAA"); err == nil || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("VerifierKeyOf of a bad key: error = %v, want one that does not repeat the key", err)
	}
}

func TestGenerateKeyRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "a b", "a+b", "a\nb"} {
		if _, _, err := GenerateKey(name); err == nil {
			t.Errorf("GenerateKey(%q) succeeded, want an error", name)
		}
	}
}

// checkExtendsFile opens path read-only and runs CheckExtends.
func checkExtendsFile(t testing.TB, path string, cp *Checkpoint) error {
	t.Helper()
	c, err := bijotel.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer c.Close()
	return CheckExtends(context.Background(), c, cp)
}

func wantExtendError(t *testing.T, err error, kind string, cpSize, chainSize uint64, seq int64, text string) {
	t.Helper()
	var e *ExtendError
	if !errors.As(err, &e) {
		t.Fatalf("CheckExtends error = %v, want an *ExtendError", err)
	}
	if !errors.Is(err, ErrNotExtended) {
		t.Errorf("error does not wrap ErrNotExtended")
	}
	if e.Kind != kind {
		t.Errorf("Kind = %q, want %q", e.Kind, kind)
	}
	if e.CheckpointSize != cpSize || e.ChainSize != chainSize {
		t.Errorf("sizes = checkpoint %d, chain %d; want %d, %d", e.CheckpointSize, e.ChainSize, cpSize, chainSize)
	}
	if e.Seq != seq {
		t.Errorf("Seq = %d, want %d", e.Seq, seq)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("message %q does not contain %q", err.Error(), text)
	}
}

// The five-row chain is checkpointed at size 5, then its tail is cut in the
// three ways an attacker with write access can.
func TestCheckExtendsTailTruncation(t *testing.T) {
	cases := []struct {
		name       string
		statements []string
		chainSize  uint64
		detail     string
	}{
		{"rows deleted", []string{`DELETE FROM chain WHERE seq > 3`}, 3, "rows after seq 3 were deleted: sqlite_sequence = 5"},
		{"all rows deleted", []string{`DELETE FROM chain`}, 0, "all rows were deleted: sqlite_sequence = 5"},
		{"counter lowered", []string{`DELETE FROM chain WHERE seq > 3`, `UPDATE sqlite_sequence SET seq = 3 WHERE name = 'chain'`}, 3, "or an older copy of the file was restored"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := chaintest.WriteFive(t, t.TempDir())
			k := newKeys(t, "log.example")
			cp := signFile(t, path, k)
			if err := checkExtendsFile(t, path, cp); err != nil {
				t.Fatalf("CheckExtends before tampering: %v", err)
			}
			chaintest.Exec(t, path, tc.statements...)
			err := checkExtendsFile(t, path, cp)
			wantExtendError(t, err, Truncated, 5, tc.chainSize, int64(tc.chainSize)+1, "tail truncated: checkpoint size 5, chain size ")
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("message %q does not contain %q", err.Error(), tc.detail)
			}
		})
	}
}

func TestCheckExtendsOlderCopyRestored(t *testing.T) {
	dir := t.TempDir()
	path := chaintest.WriteFive(t, dir)
	backup := filepath.Join(t.TempDir(), "backup.db")
	chaintest.CopyFile(t, path, backup)

	c := chaintest.OpenChain(t, path)
	chaintest.AppendEvents(t, c, 3, "after backup")
	c.Close()
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	if cp.Size != 8 {
		t.Fatalf("checkpoint size = %d, want 8", cp.Size)
	}

	chaintest.Restore(t, backup, path)
	wantExtendError(t, checkExtendsFile(t, path, cp), Truncated, 8, 5, 6, "tail truncated: checkpoint size 8, chain size 5")

	// Appending to the restored copy until it is longer than the checkpoint
	// does not hide the rollback.
	c = chaintest.OpenChain(t, path)
	chaintest.AppendEvents(t, c, 4, "other history")
	c.Close()
	wantExtendError(t, checkExtendsFile(t, path, cp), Rewritten, 8, 9, 0, "history rewritten: checkpoint size 8, chain size 9")
}

func TestCheckExtendsResealedHistory(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)

	chaintest.Reseal(t, path, 3, `{"event":"tool.denied","n":3}`)
	c := openReadOnly(t, path)
	rep, err := bijotel.Verify(context.Background(), c, chaintest.Secret(t))
	if err != nil || !rep.Valid {
		t.Fatalf("the HMAC walk of the re-sealed chain = %v, %v; want VALID, as the secret was used", rep.Broken, err)
	}
	// The stored tree still has the checkpointed root, so it names the entry.
	wantExtendError(t, checkExtendsFile(t, path, cp), Rewritten, 5, 5, 3, "seq 3 differs from the checkpointed entry")

	// An attacker who also rebuilds the tree table only hides which entry.
	chaintest.Exec(t, path, `DELETE FROM merkle_node`)
	tc, err := bijotel.OpenForTree(path)
	if err != nil {
		t.Fatalf("OpenForTree: %v", err)
	}
	if _, err := tc.SyncTree(context.Background()); err != nil {
		t.Fatalf("SyncTree: %v", err)
	}
	tc.Close()
	wantExtendError(t, checkExtendsFile(t, path, cp), Rewritten, 5, 5, 0, "do not hash to the checkpoint's root")
}

func TestCheckExtendsMissingEntry(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	chaintest.Exec(t, path, `DELETE FROM chain WHERE seq = 2`)
	wantExtendError(t, checkExtendsFile(t, path, cp), Missing, 5, 5, 2, "seq 2 is not in the chain")
}

func TestCheckExtendsIgnoresEditedTree(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	// Leaf 1 (id 1) is in the proof of seq 1; node (2, 0) (id 6) is in the
	// root at size 5.
	chaintest.Exec(t, path, `UPDATE merkle_node SET hash = zeroblob(32) WHERE id = 1`)
	c := openReadOnly(t, path)
	if _, err := ProveAt(context.Background(), c, 1, 5); err == nil {
		t.Errorf("ProveAt through an edited leaf succeeded, want an error")
	}
	chaintest.Exec(t, path, `UPDATE merkle_node SET hash = zeroblob(32) WHERE id = 6`)

	if err := checkExtendsFile(t, path, cp); err != nil {
		t.Errorf("CheckExtends with an edited tree table: %v, want nil (the rows are intact)", err)
	}
	if err := CheckStoredTree(context.Background(), c, cp); err == nil {
		t.Errorf("CheckStoredTree with an edited tree table succeeded, want an error")
	}
	if _, err := Prove(context.Background(), c, 5, cp); err == nil {
		t.Errorf("Prove with an edited root node succeeded, want an error")
	}
}

func TestCheckExtendsLongerChain(t *testing.T) {
	path := chaintest.WriteFive(t, t.TempDir())
	k := newKeys(t, "log.example")
	cp := signFile(t, path, k)
	chaintest.AppendRows(t, path, 4, func(n int) string { return `{"later":true}` })
	if err := checkExtendsFile(t, path, cp); err != nil {
		t.Errorf("CheckExtends of a chain that grew: %v", err)
	}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
