package bijotel

import (
	"bufio"
	"context"
	"database/sql"
	"os/exec"
	"testing"
	"time"
)

// holdWriteLockScript writes fixture row 2 the way Python BIJOTEL appends:
// BEGIN IMMEDIATE, read the head, insert, commit. It holds the write lock for
// one second between the insert and the commit.
const holdWriteLockScript = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5.0)
db.execute("PRAGMA busy_timeout=5000")
db.execute("BEGIN IMMEDIATE")
head = db.execute("SELECT hmac_hash FROM chain ORDER BY seq DESC LIMIT 1").fetchone()[0]
if head != sys.argv[2]:
    sys.exit("unexpected head " + head)
db.execute("INSERT INTO chain (timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash, semantic_body_hash) VALUES (?, ?, ?, 'audit.event', NULL, ?, ?, ?, ?, NULL)",
    (1700000000000000002, "0"*32, "0"*16, b'{"event":"tool.approved","n":2}', sys.argv[3], head, sys.argv[4]))
print("locked", flush=True)
time.sleep(1.0)
db.execute("COMMIT")
`

// TestAppendWaitsForAnotherWriter runs a second writer that holds the write
// lock while this package appends. The append must wait, then read the other
// writer's row as its head: a deferred transaction would fail at once with
// SQLITE_BUSY, and a head cached before the wait would fork the chain.
func TestAppendWaitsForAnotherWriter(t *testing.T) {
	path := writeFixture(t, 1)
	c, err := Open(path, mustSecret(t, fixtureSecretHex))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	// Read the head before the other writer starts, as a writer that cached
	// it would.
	if h, err := c.Head(context.Background()); err != nil || h != fixtureRows[0].mac {
		t.Fatalf("Head = %s, %v; want %s", h, err, fixtureRows[0].mac)
	}

	released := holdWriteLock(t, path)

	started := time.Now()
	got, err := c.Append(context.Background(), []Record{fixtureRecord(t, 3)})
	waited := time.Since(started)
	if err != nil {
		t.Fatalf("Append while another writer holds the lock: %v", err)
	}
	<-released
	if waited < 500*time.Millisecond {
		t.Errorf("Append returned after %v, want it to wait for the other writer's commit", waited)
	}
	if got.FirstSeq != 3 {
		t.Errorf("Append seq = %d, want 3", got.FirstSeq)
	}
	rows := rawRows(t, path)
	if len(rows) != 3 {
		t.Fatalf("chain has %d rows, want 3", len(rows))
	}
	if rows[2].PrevHash != fixtureRows[2].prev || rows[2].HMACHash != fixtureRows[2].mac {
		t.Errorf("seq 3 prev_hash, hmac_hash = %s, %s\nwant %s, %s", rows[2].PrevHash, rows[2].HMACHash, fixtureRows[2].prev, fixtureRows[2].mac)
	}
	if rep := verifyFile(t, path, mustSecret(t, fixtureSecretHex)); !rep.Valid || rep.Checked != 3 {
		t.Errorf("Verify = valid %v, %d entries (broken %v), want VALID with 3", rep.Valid, rep.Checked, rep.Broken)
	}
}

// holdWriteLock starts the second writer and returns once it holds the
// write lock. The returned channel closes when it has committed. It uses
// Python's sqlite3 module in another process when python3 is installed, and
// otherwise a second connection in this process.
func holdWriteLock(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	if python, err := exec.LookPath("python3"); err == nil {
		cmd := exec.Command(python, "-c", holdWriteLockScript, path, fixtureRows[0].mac, fixtureRows[1].canonical, fixtureRows[1].mac)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start python3: %v", err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "locked\n" {
			cmd.Wait()
			t.Fatalf("python3 writer did not take the lock: %q, %v", line, err)
		}
		go func() {
			defer close(done)
			if err := cmd.Wait(); err != nil {
				t.Errorf("python3 writer: %v", err)
			}
		}()
		return done
	}

	t.Log("python3 not found: holding the lock with a second connection in this process")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	r := fixtureRecord(t, 2)
	if _, err := tx.Exec(`INSERT INTO chain (timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash)
		VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)`, r.TimestampNS, r.TraceID, r.SpanID, r.SpanName, r.Body, fixtureRows[1].canonical, fixtureRows[0].mac, fixtureRows[1].mac); err != nil {
		t.Fatalf("insert: %v", err)
	}
	go func() {
		defer close(done)
		defer db.Close()
		time.Sleep(time.Second)
		if err := tx.Commit(); err != nil {
			t.Errorf("commit: %v", err)
		}
	}()
	return done
}
