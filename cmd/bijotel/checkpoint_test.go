package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bijotel/bijotel-go/internal/chaintest"
	"github.com/bijotel/bijotel-go/tlog"
)

// signerFiles makes a key pair with keygen --signer and returns the files.
func signerFiles(t *testing.T) (skeyFile, vkeyFile string) {
	t.Helper()
	dir := t.TempDir()
	skeyFile, vkeyFile = filepath.Join(dir, "log.key"), filepath.Join(dir, "log.vkey")
	r := runCLI(t, nil, "keygen", "--signer", "log.example", "--signer-key-out", skeyFile, "--verifier-key-out", vkeyFile)
	if r.code != exitOK {
		t.Fatalf("keygen --signer exit = %d; stderr: %s", r.code, r.stderr)
	}
	return skeyFile, vkeyFile
}

// signCheckpoint runs bijotel checkpoint and returns the checkpoint file,
// kept outside the database's directory.
func signCheckpoint(t *testing.T, db, skeyFile string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "checkpoint")
	r := runCLI(t, nil, "checkpoint", "--db", db, "--signer-key", skeyFile, "--out", out)
	if r.code != exitOK {
		t.Fatalf("checkpoint exit = %d; stderr: %s", r.code, r.stderr)
	}
	return out
}

func TestKeygenSignerCommand(t *testing.T) {
	r := runCLI(t, nil, "keygen", "--signer", "audit.example.com/chain")
	if r.code != exitOK {
		t.Fatalf("keygen --signer exit = %d; stderr: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "PRIVATE+KEY+audit.example.com/chain+") || !strings.HasPrefix(lines[1], "audit.example.com/chain+") {
		t.Fatalf("keygen --signer stdout = %q, want a signer and a verifier key line", r.stdout)
	}
	if _, err := tlog.NewSigner(lines[0]); err != nil {
		t.Errorf("signer key: %v", err)
	}
	if _, err := tlog.NewVerifier(lines[1]); err != nil {
		t.Errorf("verifier key: %v", err)
	}
	if !strings.Contains(r.stderr, "publish it") {
		t.Errorf("keygen --signer stderr = %q, want instructions", r.stderr)
	}

	skeyFile, vkeyFile := signerFiles(t)
	fi, err := os.Stat(skeyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("signer key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	r = runCLI(t, nil, "keygen", "--signer", "log.example", "--signer-key-out", skeyFile, "--verifier-key-out", vkeyFile+"2")
	if r.code != exitError || !strings.Contains(r.stderr, "exists") {
		t.Errorf("keygen over an existing key file: exit %d, stderr %q; want exit 1 and an error", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "keygen", "--signer", "bad name"); r.code != exitUsage {
		t.Errorf("keygen --signer 'bad name' exit = %d, want %d", r.code, exitUsage)
	}
	if r := runCLI(t, nil, "keygen", "--signer-key-out", filepath.Join(t.TempDir(), "k")); r.code != exitUsage {
		t.Errorf("keygen --signer-key-out without --signer exit = %d, want %d", r.code, exitUsage)
	}
}

func TestProveAndVerifyProofCommands(t *testing.T) {
	db := chaintest.WriteFive(t, t.TempDir())
	skeyFile, vkeyFile := signerFiles(t)
	cpFile := signCheckpoint(t, db, skeyFile)
	vkey, err := os.ReadFile(vkeyFile)
	if err != nil {
		t.Fatal(err)
	}

	bundle := filepath.Join(t.TempDir(), "proof.json")
	r := runCLI(t, nil, "prove", "--db", db, "--seq", "3", "--checkpoint", cpFile, "--out", bundle)
	if r.code != exitOK {
		t.Fatalf("prove exit = %d; stderr: %s", r.code, r.stderr)
	}

	// The key can be given as a file or as text, before or after BUNDLE.
	for _, args := range [][]string{
		{"verify-proof", bundle, "--verifier-key", vkeyFile},
		{"verify-proof", "--verifier-key", strings.TrimSpace(string(vkey)), bundle},
	} {
		r = runCLI(t, nil, args...)
		if r.code != exitOK {
			t.Fatalf("%v exit = %d; stderr: %s", args, r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "Proof VALID: seq 3 (audit.event) is in the tree of size 5 signed by log.example") {
			t.Errorf("verify-proof stdout = %q", r.stdout)
		}
	}

	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(data) / 3, len(data) / 2, len(data) - 120, len(data) - 2} {
		edited := bytes.Clone(data)
		edited[i] ^= 0x01
		path := filepath.Join(t.TempDir(), "edited.json")
		if err := os.WriteFile(path, edited, 0o600); err != nil {
			t.Fatal(err)
		}
		r = runCLI(t, nil, "verify-proof", path, "--verifier-key", vkeyFile)
		if r.code != exitBroken || !strings.HasPrefix(r.stderr, "Proof INVALID: ") {
			t.Errorf("verify-proof of a bundle with byte %d changed: exit %d, stderr %q; want exit 3", i, r.code, r.stderr)
		}
	}

	// A proof with a checkpoint signed on the spot.
	r = runCLI(t, nil, "prove", "--db", db, "--seq", "5", "--signer-key", skeyFile)
	if r.code != exitOK {
		t.Fatalf("prove --signer-key exit = %d; stderr: %s", r.code, r.stderr)
	}
	if _, err := tlog.VerifyBundle([]byte(r.stdout), mustVerifier(t, vkeyFile), ""); err != nil {
		t.Errorf("bundle from prove --signer-key: %v", err)
	}

	for name, args := range map[string][]string{
		"no checkpoint":   {"prove", "--db", db, "--seq", "1"},
		"both":            {"prove", "--db", db, "--seq", "1", "--checkpoint", cpFile, "--signer-key", skeyFile},
		"seq beyond":      {"prove", "--db", db, "--seq", "6", "--checkpoint", cpFile},
		"no seq":          {"prove", "--db", db, "--checkpoint", cpFile},
		"no verifier key": {"verify-proof", bundle},
		"no bundle":       {"verify-proof", "--verifier-key", vkeyFile},
		"no signer key":   {"checkpoint", "--db", db},
	} {
		if r := runCLI(t, nil, args...); r.code != exitUsage {
			t.Errorf("%s: exit = %d, want %d; stderr: %s", name, r.code, exitUsage, r.stderr)
		}
	}
}

func mustVerifier(t *testing.T, file string) interface {
	Name() string
	KeyHash() uint32
	Verify(msg, sig []byte) bool
} {
	t.Helper()
	v, err := readVerifierKey(file)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifyAgainst runs verify --checkpoint with the five-row chain's secret.
func verifyAgainst(t *testing.T, db, cpFile, vkeyFile string) result {
	t.Helper()
	return runCLI(t, map[string]string{secretEnvName: chaintest.SecretHex},
		"verify", "--db", db, "--checkpoint", cpFile, "--verifier-key", vkeyFile)
}

// A checkpoint of the five-row chain at size 5 exposes every way of
// cutting its tail, a restored older copy, and history re-sealed with the
// real secret.
func TestVerifyCheckpointCommand(t *testing.T) {
	skeyFile, vkeyFile := signerFiles(t)

	t.Run("intact", func(t *testing.T) {
		db := chaintest.WriteFive(t, t.TempDir())
		cpFile := signCheckpoint(t, db, skeyFile)
		r := verifyAgainst(t, db, cpFile, vkeyFile)
		if r.code != exitOK {
			t.Fatalf("verify --checkpoint exit = %d; stderr: %s", r.code, r.stderr)
		}
		want := "Chain VALID (5 entries).\nChain extends checkpoint log.example (size 5).\n"
		if r.stdout != want {
			t.Errorf("stdout = %q, want %q", r.stdout, want)
		}
	})

	truncations := []struct {
		name       string
		statements []string
		want       string
	}{
		{"rows deleted", []string{`DELETE FROM chain WHERE seq > 3`},
			"Chain BROKEN at seq=4: tail truncated: checkpoint size 5, chain size 3 (rows after seq 3 were deleted: sqlite_sequence = 5)\n"},
		{"all rows deleted", []string{`DELETE FROM chain`},
			"Chain BROKEN at seq=1: tail truncated: checkpoint size 5, chain size 0 (all rows were deleted: sqlite_sequence = 5)\n"},
		{"counter lowered", []string{`DELETE FROM chain WHERE seq > 3`, `UPDATE sqlite_sequence SET seq = 3 WHERE name = 'chain'`},
			"Chain BROKEN at seq=4: tail truncated: checkpoint size 5, chain size 3 (rows were deleted from the end, or an older copy of the file was restored)\n"},
	}
	for _, tc := range truncations {
		t.Run(tc.name, func(t *testing.T) {
			db := chaintest.WriteFive(t, t.TempDir())
			cpFile := signCheckpoint(t, db, skeyFile)
			chaintest.Exec(t, db, tc.statements...)
			r := verifyAgainst(t, db, cpFile, vkeyFile)
			if r.code != exitBroken {
				t.Errorf("verify --checkpoint exit = %d, want %d", r.code, exitBroken)
			}
			if r.stderr != tc.want {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.want)
			}
		})
	}

	t.Run("JSON report", func(t *testing.T) {
		db := chaintest.WriteFive(t, t.TempDir())
		cpFile := signCheckpoint(t, db, skeyFile)
		chaintest.Exec(t, db, `DELETE FROM chain WHERE seq > 3`)
		r := runCLI(t, map[string]string{secretEnvName: chaintest.SecretHex},
			"verify", "--db", db, "--checkpoint", cpFile, "--verifier-key", vkeyFile, "--json")
		if r.code != exitBroken {
			t.Errorf("verify --checkpoint --json exit = %d, want %d", r.code, exitBroken)
		}
		var rep struct {
			Status       string `json:"status"`
			BrokenSeq    int64  `json:"broken_seq"`
			BrokenReason string `json:"broken_reason"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("JSON report %q: %v", r.stdout, err)
		}
		if rep.Status != "BROKEN" || rep.BrokenSeq != 4 || !strings.HasPrefix(rep.BrokenReason, "tail truncated: checkpoint size 5, chain size 3") {
			t.Errorf("JSON report = %+v, want BROKEN at seq 4 with tail truncated", rep)
		}
	})

	t.Run("older copy restored", func(t *testing.T) {
		db := chaintest.WriteFive(t, t.TempDir())
		backup := filepath.Join(t.TempDir(), "backup.db")
		chaintest.CopyFile(t, db, backup)
		chaintest.AppendRows(t, db, 2, func(n int) string { return `{"after":"backup"}` })
		cpFile := signCheckpoint(t, db, skeyFile)
		chaintest.Restore(t, backup, db)
		if r := runCLI(t, map[string]string{secretEnvName: chaintest.SecretHex}, "verify", "--db", db); r.code != exitOK {
			t.Fatalf("verify without a checkpoint exit = %d, want 0 (the older copy is consistent in itself)", r.code)
		}
		r := verifyAgainst(t, db, cpFile, vkeyFile)
		if r.code != exitBroken || !strings.Contains(r.stderr, "tail truncated: checkpoint size 7, chain size 5") {
			t.Errorf("verify --checkpoint = exit %d, stderr %q; want exit 3 and tail truncated", r.code, r.stderr)
		}
	})

	t.Run("re-sealed with the secret", func(t *testing.T) {
		db := chaintest.WriteFive(t, t.TempDir())
		cpFile := signCheckpoint(t, db, skeyFile)
		chaintest.Reseal(t, db, 2, `{"event":"tool.denied","n":2}`)
		if r := runCLI(t, map[string]string{secretEnvName: chaintest.SecretHex}, "verify", "--db", db); r.code != exitOK {
			t.Fatalf("verify without a checkpoint exit = %d, want 0 (re-sealed with the real secret)", r.code)
		}
		r := verifyAgainst(t, db, cpFile, vkeyFile)
		want := "Chain BROKEN at seq=2: history rewritten: checkpoint size 5, chain size 5 (seq 2 differs from the checkpointed entry)\n"
		if r.code != exitBroken || r.stderr != want {
			t.Errorf("verify --checkpoint = exit %d, stderr %q; want exit 3 and %q", r.code, r.stderr, want)
		}
	})

	t.Run("flag errors", func(t *testing.T) {
		db := chaintest.WriteFive(t, t.TempDir())
		cpFile := signCheckpoint(t, db, skeyFile)
		vars := map[string]string{secretEnvName: chaintest.SecretHex}
		if r := runCLI(t, vars, "verify", "--db", db, "--checkpoint", cpFile); r.code != exitUsage {
			t.Errorf("--checkpoint without --verifier-key: exit %d, want %d", r.code, exitUsage)
		}
		_, otherVKey := signerFiles(t)
		if r := runCLI(t, vars, "verify", "--db", db, "--checkpoint", cpFile, "--verifier-key", otherVKey); r.code != exitBroken || !strings.Contains(r.stderr, "invalid checkpoint") {
			t.Errorf("--verifier-key of another log: exit %d, stderr %q; want exit 3", r.code, r.stderr)
		}
	})
}

func TestCheckpointCommandOutput(t *testing.T) {
	db := chaintest.WriteFive(t, t.TempDir())
	skeyFile, _ := signerFiles(t)
	r := runCLI(t, nil, "checkpoint", "--db", db, "--signer-key", skeyFile, "--origin", "audit.example.com/chain")
	if r.code != exitOK {
		t.Fatalf("checkpoint exit = %d; stderr: %s", r.code, r.stderr)
	}
	want := "audit.example.com/chain\n5\n" + chaintest.Root5 + "\n\n— log.example "
	if !strings.HasPrefix(r.stdout, want) {
		t.Errorf("checkpoint stdout = %q, want it to start with %q", r.stdout, want)
	}
	inside := filepath.Join(filepath.Dir(db), "checkpoint")
	r = runCLI(t, nil, "checkpoint", "--db", db, "--signer-key", skeyFile, "--out", inside)
	if r.code != exitOK || !strings.Contains(r.stderr, "Warning: ") {
		t.Errorf("checkpoint --out beside the database: exit %d, stderr %q; want a warning", r.code, r.stderr)
	}
}

// The witness command accepts two checkpoints of a real HTTP server on
// 127.0.0.1 and exits 3 when the server rolls back to an older copy.
func TestWitnessCommandCatchesRollback(t *testing.T) {
	db := chaintest.WriteFive(t, t.TempDir())
	backup := filepath.Join(t.TempDir(), "backup.db")
	chaintest.CopyFile(t, db, backup)
	skeyFile, vkeyFile := signerFiles(t)
	signer, _, err := readSignerKey(&env{stderr: &bytes.Buffer{}}, skeyFile)
	if err != nil {
		t.Fatal(err)
	}

	c := chaintest.OpenChain(t, db)
	cps, err := tlog.NewCheckpointer(c, signer, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[tlog.Handler]
	current.Store(tlog.NewHandler(c, cps))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }))
	defer srv.Close()

	state := t.TempDir()
	witness := func() result {
		return runCLI(t, nil, "witness", "--log", srv.URL, "--verifier-key", vkeyFile, "--state", state, "--once")
	}
	if r := witness(); r.code != exitOK || r.stdout != "Witnessed checkpoint log.example at size 5.\n" {
		t.Fatalf("first witness run: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	chaintest.AppendEvents(t, c, 2, "more")
	if _, err := cps.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := witness(); r.code != exitOK || r.stdout != "Witnessed checkpoint log.example at size 7.\n" {
		t.Fatalf("second witness run: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}

	old := chaintest.OpenChain(t, backup)
	oldCps, err := tlog.NewCheckpointer(old, signer, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	current.Store(tlog.NewHandler(old, oldCps))
	r := witness()
	if r.code != exitBroken {
		t.Errorf("witness after a rollback: exit %d, want %d; stderr: %s", r.code, exitBroken, r.stderr)
	}
	if !strings.Contains(r.stderr, "ALERT: log rolled back: checkpoint size 5 after size 7 was accepted") {
		t.Errorf("witness stderr = %q, want the rollback alert", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(state, witnessKeyFile)); err != nil {
		t.Errorf("witness key was not kept in the state directory: %v", err)
	}
}

func TestSignerKeyPassedAsVerifierKeyIsNotPrinted(t *testing.T) {
	signerKey, _, err := tlog.GenerateKey("leak-test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(keyFile, []byte(signerKey), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{keyFile, signerKey} {
		r := runCLI(t, nil, "verify-proof", filepath.Join(t.TempDir(), "absent.json"), "--verifier-key", value)
		if r.code == exitOK {
			t.Errorf("verify-proof with a signer key as --verifier-key succeeded")
		}
		secretPart := strings.TrimPrefix(signerKey, "PRIVATE+KEY+leak-test.example/log+")
		if strings.Contains(r.stdout+r.stderr, secretPart) {
			t.Errorf("verify-proof printed the signer key: %s", r.stderr)
		}
		if !strings.Contains(r.stderr, "signer (private) key") {
			t.Errorf("verify-proof stderr = %q, want it to say a signer key was given", r.stderr)
		}
	}
}
