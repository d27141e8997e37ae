// Package chaintest builds small chains for the tests of the transparency
// log packages. It writes a five-row chain with plain SQL, as Python BIJOTEL
// writes it, and tampers with chain files the way an attacker with write
// access could.
package chaintest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	bijotel "github.com/bijotel/bijotel-go"
	_ "modernc.org/sqlite"
)

// SecretHex is the HMAC secret of the five-row chain.
const SecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Head5 is the hmac_hash of seq 5 of the five-row chain, computed by two
// independent implementations of the v1 formula.
const Head5 = "f226ca17e9e410ae9f671301aa6c07fb3ca8a2ee0217c4c57406362dd9c7106d"

// Root5 is the standard base64 Merkle root of the five-row chain, computed
// by a separate Python script from the leaf layout of docs/chain-format.md.
const Root5 = "dYM4w+hl13vytVR2t1PyrAjqQfLV5AzgokkFKhgRFek="

// Secret returns the decoded SecretHex.
func Secret(t testing.TB) []byte {
	t.Helper()
	s, err := bijotel.ParseSecret(SecretHex)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return s
}

const pythonSchema = `
CREATE TABLE chain (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp_ns INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    span_name TEXT NOT NULL,
    span_kind TEXT,
    canonical_body BLOB NOT NULL,
    canonical_hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hmac_hash TEXT NOT NULL,
    semantic_body_hash TEXT
);
CREATE INDEX idx_chain_trace_id ON chain(trace_id);
CREATE INDEX idx_chain_semantic ON chain(semantic_body_hash);
`

// WriteFive creates dir/chain.db with Python's schema and no Merkle tree,
// and five non-span rows, one transaction each: row n has body
// {"event":"tool.approved","n":N}, timestamp_ns 1700000000000000000+n, zero
// ids, span_name audit.event and NULL kind and semantic hash. It fails the
// test unless seq 5's hmac_hash is Head5.
func WriteFive(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "chain.db")
	db := openDB(t, path)
	defer db.Close()
	if _, err := db.Exec(pythonSchema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	AppendRows(t, path, 5, func(n int) string { return fmt.Sprintf(`{"event":"tool.approved","n":%d}`, n) })
	if head := HeadOf(t, path); head != Head5 {
		t.Fatalf("five-row chain head = %s, want %s", head, Head5)
	}
	return path
}

// AppendRows appends count non-span rows after the head with plain SQL and
// the real secret, as a writer unaware of the tree does. body returns the
// body of each new row from its seq.
func AppendRows(t testing.TB, path string, count int, body func(seq int) string) {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	secret := Secret(t)
	for range count {
		var last sql.NullInt64
		var head sql.NullString
		if err := db.QueryRow(`SELECT max(seq) FROM chain`).Scan(&last); err != nil {
			t.Fatalf("read head: %v", err)
		}
		if err := db.QueryRow(`SELECT hmac_hash FROM chain ORDER BY seq DESC LIMIT 1`).Scan(&head); err != nil && err != sql.ErrNoRows {
			t.Fatalf("read head: %v", err)
		}
		prev := bijotel.GenesisHash
		if head.Valid {
			prev = head.String
		}
		seq := int(last.Int64) + 1
		b := []byte(body(seq))
		ch := bijotel.CanonicalHash(b)
		_, err := db.Exec(`INSERT INTO chain (timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash, semantic_body_hash)
			VALUES (?, ?, ?, 'audit.event', NULL, ?, ?, ?, ?, NULL)`,
			1700000000000000000+int64(seq), "00000000000000000000000000000000", "0000000000000000", b, ch, prev, bijotel.EntryHMAC(secret, prev, ch))
		if err != nil {
			t.Fatalf("insert seq %d: %v", seq, err)
		}
	}
}

// Reseal rewrites the body of seq and seals it and every later row again
// with the real secret, as someone who stole the secret could: the HMAC
// walk still passes.
func Reseal(t testing.TB, path string, seq int64, body string) {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	secret := Secret(t)

	var prev string
	if err := db.QueryRow(`SELECT prev_hash FROM chain WHERE seq = ?`, seq).Scan(&prev); err != nil {
		t.Fatalf("read seq %d: %v", seq, err)
	}
	rows, err := db.Query(`SELECT seq, canonical_body FROM chain WHERE seq >= ? ORDER BY seq`, seq)
	if err != nil {
		t.Fatalf("read rows: %v", err)
	}
	type row struct {
		seq  int64
		body []byte
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.body); err != nil {
			t.Fatalf("scan: %v", err)
		}
		all = append(all, r)
	}
	rows.Close()

	all[0].body = []byte(body)
	for _, r := range all {
		ch := bijotel.CanonicalHash(r.body)
		mac := bijotel.EntryHMAC(secret, prev, ch)
		if _, err := db.Exec(`UPDATE chain SET canonical_body = ?, canonical_hash = ?, prev_hash = ?, hmac_hash = ? WHERE seq = ?`, r.body, ch, prev, mac, r.seq); err != nil {
			t.Fatalf("reseal seq %d: %v", r.seq, err)
		}
		prev = mac
	}
}

// Exec runs statements on the file with plain SQL.
func Exec(t testing.TB, path string, statements ...string) {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// HeadOf returns the hmac_hash of the newest row.
func HeadOf(t testing.TB, path string) string {
	t.Helper()
	db := openDB(t, path)
	defer db.Close()
	var head string
	if err := db.QueryRow(`SELECT hmac_hash FROM chain ORDER BY seq DESC LIMIT 1`).Scan(&head); err != nil {
		t.Fatalf("read head: %v", err)
	}
	return head
}

// Checkpointed folds the write-ahead log into the database file, so that
// copying the file alone copies the whole chain.
func Checkpointed(t testing.TB, path string) {
	t.Helper()
	Exec(t, path, `PRAGMA wal_checkpoint(TRUNCATE)`)
}

// CopyFile copies a chain file, after folding its write-ahead log in.
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	Checkpointed(t, src)
	in, err := os.Open(src)
	if err != nil {
		t.Fatalf("open %s: %v", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatalf("create %s: %v", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	if err := out.Close(); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// Restore replaces the chain at path with the copy at src, as an attacker
// who restores an older backup does, removing the write-ahead log files
// that belong to the replaced database.
func Restore(t testing.TB, src, path string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatalf("remove %s: %v", path+suffix, err)
		}
	}
	in, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	if err := os.WriteFile(path, in, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// OpenChain opens path for appending with the five-row chain's secret and
// closes it when the test ends.
func OpenChain(t testing.TB, path string) *bijotel.Chain {
	t.Helper()
	c, err := bijotel.Open(path, Secret(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// AppendEvents appends count events with the Go writer, which keeps the
// tree up to date.
func AppendEvents(t testing.TB, c *bijotel.Chain, count int, tag string) {
	t.Helper()
	for i := range count {
		if _, err := c.AppendEvent(context.Background(), "audit.event", map[string]any{"tag": tag, "i": i}); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
}

func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}
