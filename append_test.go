package bijotel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtureSecretHex and fixtureRows describe a five-row chain of non-span
// entries whose hashes were computed by two independent implementations of
// the v1 formula. Row n has body {"event":"tool.approved","n":N} and
// timestamp_ns 1700000000000000000+n.
const fixtureSecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

var fixtureRows = []struct{ canonical, prev, mac string }{
	{"b907f4129339e8bf8a50a9028f603e845b6a9054c6d3a1d60639afec4b59a418", GenesisHash, "bb3bf647d69c9d2368136aa73ac5154104199cdfc2f0d976b994e4815530701c"},
	{"f27f785270604e6afb09f06ecf647005c818fe041f7c2709179e60ccd55e3f97", "bb3bf647d69c9d2368136aa73ac5154104199cdfc2f0d976b994e4815530701c", "0751e59e583d24a2fc3a907579eb84f6942c40ff5c18879cd803fc582acfc304"},
	{"9826538896b3229c75f26990b9376c366639229076a982832153973d184e8490", "0751e59e583d24a2fc3a907579eb84f6942c40ff5c18879cd803fc582acfc304", "6e5274377e06595e38dc01bc5940150e1733363ec8204144e2ae9affec268c90"},
	{"78e8762332c58c5a79b7eec8557a080756f52baddd9f55bb6993ff9f90f37ecf", "6e5274377e06595e38dc01bc5940150e1733363ec8204144e2ae9affec268c90", "fc91a483483716902e08d84bae0d49b9ce3600dd4e1050c1020e0a5784575027"},
	{"4e5ddfc9845d92d80121a9f5f9399bafa67eccfde2e228d55ee5334d77ea01c0", "fc91a483483716902e08d84bae0d49b9ce3600dd4e1050c1020e0a5784575027", "f226ca17e9e410ae9f671301aa6c07fb3ca8a2ee0217c4c57406362dd9c7106d"},
}

func fixtureRecord(t testing.TB, n int) Record {
	t.Helper()
	r, err := EventRecord("audit.event", map[string]any{"event": "tool.approved", "n": n}, time.Unix(0, 1700000000000000000+int64(n)))
	if err != nil {
		t.Fatalf("EventRecord: %v", err)
	}
	return r
}

// writeFixture creates a chain holding the first n fixture rows, one
// transaction per row.
func writeFixture(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	for i := 1; i <= n; i++ {
		if _, err := c.Append(context.Background(), []Record{fixtureRecord(t, i)}); err != nil {
			t.Fatalf("Append row %d: %v", i, err)
		}
	}
	return path
}

// rawRows reads the chain table with plain SQL, independently of Chain.
func rawRows(t testing.TB, path string) []Entry {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, timestamp_ns, canonical_body, canonical_hash, prev_hash, hmac_hash FROM chain ORDER BY seq`)
	if err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.TimestampNS, &e.CanonicalBody, &e.CanonicalHash, &e.PrevHash, &e.HMACHash); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// formulaHMAC is the v1 formula written out with the standard library alone.
func formulaHMAC(secret []byte, prev, canonical string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(prev + canonical))
	return hex.EncodeToString(m.Sum(nil))
}

func TestAppendMatchesFixtureHashes(t *testing.T) {
	path := writeFixture(t, 5)
	rows := rawRows(t, path)
	if len(rows) != 5 {
		t.Fatalf("chain has %d rows, want 5", len(rows))
	}
	for i, r := range rows {
		want := fixtureRows[i]
		if r.Seq != int64(i+1) {
			t.Errorf("row %d seq = %d", i+1, r.Seq)
		}
		if r.CanonicalHash != want.canonical {
			t.Errorf("row %d canonical_hash = %s, want %s", i+1, r.CanonicalHash, want.canonical)
		}
		if r.PrevHash != want.prev {
			t.Errorf("row %d prev_hash = %s, want %s", i+1, r.PrevHash, want.prev)
		}
		if r.HMACHash != want.mac {
			t.Errorf("row %d hmac_hash = %s, want %s", i+1, r.HMACHash, want.mac)
		}
	}
	rep := verifyFile(t, path, mustSecret(t, fixtureSecretHex))
	if !rep.Valid || rep.Checked != 5 {
		t.Errorf("Verify = %+v (broken %v), want VALID with 5 entries", rep, rep.Broken)
	}
}

func TestAppendFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if _, err := c.Append(context.Background(), []Record{fixtureRecord(t, 1)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	// The WAL and its index exist while the chain is open.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestAppendContinuesPythonChain(t *testing.T) {
	vf := loadVectors(t)
	path := copyChain(t, filepath.Join(pythonVectorsDir, "chain.db"))
	secret := mustSecret(t, pythonSecretHex)
	c, err := Open(path, secret)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := &Span{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Name: "chat gpt-4o", Kind: "CLIENT",
		StartTimeUnixNano: 1779523300000000000, EndTimeUnixNano: 1779523301000000000,
		Attributes: []Attribute{{Key: "gen_ai.operation.name", Value: "chat"}, {Key: "gen_ai.request.model", Value: "gpt-4o"}},
	}
	rec, err := SpanRecord(s)
	if err != nil {
		t.Fatalf("SpanRecord: %v", err)
	}
	ev, err := EventRecord("audit.event", map[string]any{"action": "continue"}, time.Unix(0, 1779523302000000000))
	if err != nil {
		t.Fatalf("EventRecord: %v", err)
	}
	got, err := c.Append(context.Background(), []Record{rec, ev})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	c.Close()
	if got.FirstSeq != 13 || got.LastSeq != 14 {
		t.Errorf("Append = seq %d-%d, want 13-14", got.FirstSeq, got.LastSeq)
	}

	rows := rawRows(t, path)
	if len(rows) != 14 {
		t.Fatalf("chain has %d rows, want 14", len(rows))
	}
	pythonHead := vf.Rows[len(vf.Rows)-1].HMACHash
	if rows[12].PrevHash != pythonHead {
		t.Errorf("seq 13 prev_hash = %s, want seq 12's hmac_hash %s", rows[12].PrevHash, pythonHead)
	}
	prev := pythonHead
	for _, r := range rows[12:] {
		sum := sha256.Sum256(r.CanonicalBody)
		if h := hex.EncodeToString(sum[:]); h != r.CanonicalHash {
			t.Errorf("seq %d canonical_hash = %s, formula gives %s", r.Seq, r.CanonicalHash, h)
		}
		if r.PrevHash != prev {
			t.Errorf("seq %d prev_hash = %s, want %s", r.Seq, r.PrevHash, prev)
		}
		if m := formulaHMAC(secret, r.PrevHash, r.CanonicalHash); m != r.HMACHash {
			t.Errorf("seq %d hmac_hash = %s, formula gives %s", r.Seq, r.HMACHash, m)
		}
		prev = r.HMACHash
	}
	rep := verifyFile(t, path, secret)
	if !rep.Valid || rep.Checked != 14 {
		t.Errorf("Verify = valid %v, %d entries (broken %v), want VALID with 14", rep.Valid, rep.Checked, rep.Broken)
	}
}

func TestAppendBatchIsOneTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	var batch []Record
	for i := 1; i <= 5; i++ {
		batch = append(batch, fixtureRecord(t, i))
	}
	got, err := c.Append(context.Background(), batch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if got.FirstSeq != 1 || got.LastSeq != 5 || got.Head != fixtureRows[4].mac {
		t.Errorf("Append = %+v, want seq 1-5 with head %s", got, fixtureRows[4].mac)
	}
}

func TestOpenRejectsShortSecret(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "chain.db"), []byte("short"))
	if err == nil {
		t.Fatal("Open with a 5-byte secret succeeded, want an error")
	}
	if !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("Open error = %v, want one wrapping ErrInvalidSecret", err)
	}
}

func TestOpenRejectsAnotherChainsSecret(t *testing.T) {
	path := writeFixture(t, 3)
	other := mustSecret(t, "ff"+fixtureSecretHex[2:])
	_, err := Open(path, other)
	if !errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("Open with another secret = %v, want an error wrapping ErrSecretMismatch", err)
	}
	if strings.Contains(err.Error(), fixtureSecretHex[2:]) {
		t.Error("the error contains the secret")
	}
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open with the chain's secret: %v", err)
	}
	c.Close()
}
