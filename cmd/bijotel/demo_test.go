package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoSealsAndVerifies(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.db")
	r := runCLI(t, map[string]string{secretEnvName: fixtureSecretHex}, "demo", "--db", db)
	if r.code != exitOK {
		t.Fatalf("demo exit = %d, stderr %s", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, "Chain VALID (5 entries).\n") {
		t.Errorf("demo output does not end with the VALID line:\n%s", r.stdout)
	}
	for _, provider := range []string{"anthropic", "x_ai", "mistral_ai", "gcp.gemini"} {
		if !strings.Contains(r.stdout, provider) {
			t.Errorf("demo output lacks a row for %s:\n%s", provider, r.stdout)
		}
	}

	// A second run appends to the same chain.
	r = runCLI(t, map[string]string{secretEnvName: fixtureSecretHex}, "demo", "--db", db)
	if r.code != exitOK || !strings.HasSuffix(r.stdout, "Chain VALID (10 entries).\n") {
		t.Errorf("second demo run = exit %d, output %q", r.code, r.stdout)
	}

	secret, err := hex.DecodeString(fixtureSecretHex)
	if err != nil {
		t.Fatal(err)
	}
	recomputeChain(t, db, secret, 10)
}

// recomputeChain checks every row of the chain at path with the v1 formula
// written out here with the standard library alone, independently of the
// project's verifier: canonical_hash = hex(SHA-256(canonical_body)),
// hmac_hash = hex(HMAC-SHA256(secret, prev_hash || canonical_hash)), and
// prev_hash of seq 1 is 64 zeros.
func recomputeChain(t *testing.T, path string, secret []byte, wantRows int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, canonical_body, canonical_hash, prev_hash, hmac_hash FROM chain ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	prev := strings.Repeat("0", 64)
	n := 0
	for rows.Next() {
		var seq int64
		var body []byte
		var canonical, prevHash, mac string
		if err := rows.Scan(&seq, &body, &canonical, &prevHash, &mac); err != nil {
			t.Fatal(err)
		}
		n++
		if seq != int64(n) {
			t.Errorf("row %d has seq %d", n, seq)
		}
		sum := sha256.Sum256(body)
		if got := hex.EncodeToString(sum[:]); got != canonical {
			t.Errorf("seq %d: SHA-256 of the body = %s, canonical_hash = %s", seq, got, canonical)
		}
		if prevHash != prev {
			t.Errorf("seq %d: prev_hash = %s, want the previous hmac_hash %s", seq, prevHash, prev)
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(prevHash + canonical))
		if got := hex.EncodeToString(m.Sum(nil)); got != mac {
			t.Errorf("seq %d: HMAC = %s, hmac_hash = %s", seq, got, mac)
		}
		prev = mac
	}
	if n != wantRows {
		t.Errorf("chain has %d rows, want %d", n, wantRows)
	}
}

func TestDemoCreatesSecretFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.db")
	r := runCLI(t, nil, "demo", "--db", db)
	if r.code != exitOK {
		t.Fatalf("demo exit = %d, stderr %s", r.code, r.stderr)
	}
	fi, err := os.Stat(db + ".secret")
	if err != nil {
		t.Fatalf("demo did not write %s.secret: %v", db, err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %o, want 600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(db + ".secret")
	v := runCLI(t, map[string]string{secretEnvName: strings.TrimSpace(string(data))}, "verify", "--db", db)
	if v.code != exitOK || v.stdout != "Chain VALID (5 entries).\n" {
		t.Errorf("verify with the written secret = %d %q %q", v.code, v.stdout, v.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(data))) {
		t.Error("demo printed the secret")
	}
}
