package bijotel

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// writeSpanChain creates a chain of n span entries written by this package.
func writeSpanChain(t testing.TB, n int, secret []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, secret)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	var batch []Record
	for i := 1; i <= n; i++ {
		s := &Span{
			TraceID:           fmt.Sprintf("%032x", i),
			SpanID:            fmt.Sprintf("%016x", i),
			Name:              "chat claude-sonnet-4-5",
			Kind:              "CLIENT",
			StartTimeUnixNano: uint64(1700000000000000000 + i*1000),
			EndTimeUnixNano:   uint64(1700000000000000500 + i*1000),
			Attributes: []Attribute{
				{Key: "gen_ai.operation.name", Value: "chat"},
				{Key: "gen_ai.provider.name", Value: "anthropic"},
				{Key: "gen_ai.usage.input_tokens", Value: int64(i)},
			},
		}
		r, err := SpanRecord(s)
		if err != nil {
			t.Fatalf("SpanRecord: %v", err)
		}
		batch = append(batch, r)
	}
	if _, err := c.Append(context.Background(), batch); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return path
}

func execSQL(t testing.TB, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	secret := mustSecret(t, fixtureSecretHex)
	original := writeSpanChain(t, 60, secret)
	head := rawRows(t, original)[59].HMACHash

	tests := []struct {
		name    string
		sql     []string
		opts    []VerifyOption
		wantSeq int64
	}{
		{name: "body", sql: []string{`UPDATE chain SET canonical_body = CAST(replace(CAST(canonical_body AS TEXT), 'anthropic', 'openai') AS BLOB) WHERE seq = 17`}, wantSeq: 17},
		{name: "canonical_hash", sql: []string{`UPDATE chain SET canonical_hash = replace(canonical_hash, substr(canonical_hash, 1, 1), 'f') WHERE seq = 18`}, wantSeq: 18},
		{name: "prev_hash", sql: []string{`UPDATE chain SET prev_hash = (SELECT hmac_hash FROM chain WHERE seq = 3) WHERE seq = 19`}, wantSeq: 19},
		{name: "hmac_hash", sql: []string{`UPDATE chain SET hmac_hash = '` + GenesisHash + `' WHERE seq = 20`}, wantSeq: 20},
		{name: "trace_id", sql: []string{`UPDATE chain SET trace_id = 'ffffffffffffffffffffffffffffffff' WHERE seq = 21`}, wantSeq: 21},
		{name: "span_id", sql: []string{`UPDATE chain SET span_id = 'ffffffffffffffff' WHERE seq = 22`}, wantSeq: 22},
		{name: "span_name", sql: []string{`UPDATE chain SET span_name = 'chat gpt-4o' WHERE seq = 23`}, wantSeq: 23},
		{name: "span_kind", sql: []string{`UPDATE chain SET span_kind = 'SERVER' WHERE seq = 24`}, wantSeq: 24},
		{name: "timestamp_ns", sql: []string{`UPDATE chain SET timestamp_ns = timestamp_ns + 1 WHERE seq = 25`}, wantSeq: 25},
		// semantic_body_hash is derived data, not evidence: it is not sealed,
		// so changing it must not break the chain.
		{name: "first row deleted", sql: []string{`DELETE FROM chain WHERE seq = 1`}, wantSeq: 2},
		{name: "middle row deleted", sql: []string{`DELETE FROM chain WHERE seq = 30`}, wantSeq: 31},
		{name: "last row deleted", sql: []string{`DELETE FROM chain WHERE seq = 60`}, wantSeq: 60},
		{
			name:    "last row deleted against remembered head",
			sql:     []string{`DELETE FROM chain WHERE seq = 60`, `UPDATE sqlite_sequence SET seq = 59 WHERE name = 'chain'`},
			opts:    []VerifyOption{WithExpectedHead(60, head)},
			wantSeq: 60,
		},
		{
			name: "row duplicated",
			sql: []string{`INSERT INTO chain (timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash, semantic_body_hash)
				SELECT timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash, semantic_body_hash FROM chain WHERE seq = 40`},
			wantSeq: 61,
		},
		{
			name: "rows swapped",
			sql: []string{
				`UPDATE chain SET seq = -1 WHERE seq = 33`,
				`UPDATE chain SET seq = 33 WHERE seq = 34`,
				`UPDATE chain SET seq = 34 WHERE seq = -1`,
			},
			wantSeq: 33,
		},
		{
			name: "forged row inserted",
			sql: []string{
				`UPDATE chain SET seq = seq + 1000 WHERE seq > 45`,
				`INSERT INTO chain (seq, timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, prev_hash, hmac_hash)
				 SELECT 46, timestamp_ns, trace_id, span_id, span_name, span_kind, canonical_body, canonical_hash, hmac_hash, hmac_hash FROM chain WHERE seq = 45`,
				`UPDATE chain SET seq = seq - 999 WHERE seq > 1000`,
			},
			wantSeq: 46,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := copyChain(t, original)
			execSQL(t, path, tc.sql...)
			rep := verifyFile(t, path, secret, tc.opts...)
			if rep.Valid {
				t.Fatalf("Verify = VALID (%d entries), want BROKEN at seq=%d", rep.Checked, tc.wantSeq)
			}
			if rep.Broken.Seq != tc.wantSeq {
				t.Errorf("Verify broken at seq=%d (%s), want seq=%d", rep.Broken.Seq, rep.Broken.Reason, tc.wantSeq)
			}
		})
	}

	t.Run("semantic_body_hash changed", func(t *testing.T) {
		path := copyChain(t, original)
		execSQL(t, path, `UPDATE chain SET semantic_body_hash = 'x' WHERE seq = 5`)
		if rep := verifyFile(t, path, secret); !rep.Valid {
			t.Errorf("Verify = BROKEN at seq=%d (%s), want VALID", rep.Broken.Seq, rep.Broken.Reason)
		}
	})
	t.Run("untouched", func(t *testing.T) {
		rep := verifyFile(t, original, secret, WithExpectedHead(60, head))
		if !rep.Valid || rep.Checked != 60 {
			t.Errorf("Verify = valid %v, %d entries, want VALID with 60", rep.Valid, rep.Checked)
		}
	})
}

func TestVerifyDetectsTailTruncation(t *testing.T) {
	secret := mustSecret(t, fixtureSecretHex)
	original := writeFixture(t, 5)
	tests := []struct {
		name       string
		sql        []string
		opts       []VerifyOption
		wantValid  bool
		wantSeq    int64
		wantReason string
	}{
		{name: "newest rows deleted", sql: []string{`DELETE FROM chain WHERE seq > 3`}, wantSeq: 4, wantReason: "rows after seq 3 were deleted (sqlite_sequence = 5)"},
		{name: "every row deleted", sql: []string{`DELETE FROM chain`}, wantSeq: 1, wantReason: "all rows were deleted (sqlite_sequence = 5)"},
		// Lowering sqlite_sequence too defeats the local check: only a head
		// kept outside the file detects it.
		{name: "counter lowered too", sql: []string{`DELETE FROM chain WHERE seq > 3`, `UPDATE sqlite_sequence SET seq = 3 WHERE name = 'chain'`}, wantValid: true},
		{
			name:       "counter lowered, remembered head",
			sql:        []string{`DELETE FROM chain WHERE seq > 3`, `UPDATE sqlite_sequence SET seq = 3 WHERE name = 'chain'`},
			opts:       []VerifyOption{WithExpectedHead(5, fixtureRows[4].mac)},
			wantSeq:    4,
			wantReason: "tail truncated: the expected head is seq 5 but the chain ends at seq 3",
		},
		{name: "no sequence row", sql: []string{`DELETE FROM sqlite_sequence`}, wantValid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := copyChain(t, original)
			execSQL(t, path, tc.sql...)
			rep := verifyFile(t, path, secret, tc.opts...)
			if rep.Valid != tc.wantValid {
				t.Fatalf("Verify valid = %v (broken %+v), want %v", rep.Valid, rep.Broken, tc.wantValid)
			}
			if tc.wantValid {
				return
			}
			if rep.Broken.Seq != tc.wantSeq || rep.Broken.Reason != tc.wantReason {
				t.Errorf("Verify = BROKEN at seq=%d: %s\nwant BROKEN at seq=%d: %s", rep.Broken.Seq, rep.Broken.Reason, tc.wantSeq, tc.wantReason)
			}
		})
	}
}

func TestVerifyStartOfChain(t *testing.T) {
	secret := mustSecret(t, fixtureSecretHex)
	original := writeFixture(t, 5)
	path := copyChain(t, original)
	execSQL(t, path, `DELETE FROM chain WHERE seq < 3`)

	rep := verifyFile(t, path, secret)
	if rep.Valid || rep.Broken.Seq != 3 {
		t.Fatalf("Verify of a chain starting at seq 3 = valid %v %+v, want BROKEN at seq=3", rep.Valid, rep.Broken)
	}
	rep = verifyFile(t, path, secret, WithTrustFrom(3))
	if !rep.Valid || rep.Checked != 3 {
		t.Errorf("Verify with trust-from 3 = valid %v, %d entries (broken %+v), want VALID with 3", rep.Valid, rep.Checked, rep.Broken)
	}

	genesis := copyChain(t, original)
	execSQL(t, genesis, `UPDATE chain SET prev_hash = '`+fixtureRows[0].mac+`' WHERE seq = 1`)
	rep = verifyFile(t, genesis, secret)
	if rep.Valid || rep.Broken.Seq != 1 || rep.Broken.Reason != reasonGenesis {
		t.Errorf("Verify with a non-genesis first prev_hash = %+v, want BROKEN at seq=1: %s", rep.Broken, reasonGenesis)
	}
}

func TestVerifySegment(t *testing.T) {
	secret := mustSecret(t, fixtureSecretHex)
	path := writeSpanChain(t, 50, secret)
	rep := verifyFile(t, path, secret, WithSeqRange(10, 20))
	if !rep.Valid || !rep.Segment || rep.From != 10 || rep.To != 20 || rep.Checked != 11 || rep.Total != 50 {
		t.Errorf("Verify segment = %+v, want VALID seq 10-20, 11 of 50", rep)
	}
	execSQL(t, path, `UPDATE chain SET hmac_hash = '`+GenesisHash+`' WHERE seq = 15`)
	rep = verifyFile(t, path, secret, WithSeqRange(10, 20))
	if rep.Valid || rep.Broken.Seq != 15 {
		t.Errorf("Verify segment over a forged entry = %+v, want BROKEN at seq=15", rep.Broken)
	}
	rep = verifyFile(t, path, secret, WithSeqRange(16, 50))
	if !rep.Valid {
		t.Errorf("Verify segment after the forged entry = BROKEN %+v, want VALID", rep.Broken)
	}
}

func TestVerifyParallelMatchesSerial(t *testing.T) {
	secret := mustSecret(t, fixtureSecretHex)
	path := writeSpanChain(t, 2000, secret)
	execSQL(t, path, `UPDATE chain SET span_name = 'x' WHERE seq = 1500`, `UPDATE chain SET span_name = 'x' WHERE seq = 1700`)
	for _, workers := range []int{1, 2, 8} {
		rep := verifyFile(t, path, secret, WithWorkers(workers))
		if rep.Valid || rep.Broken.Seq != 1500 {
			t.Errorf("Verify with %d workers = %+v, want BROKEN at seq=1500", workers, rep.Broken)
		}
		if rep.Checked != 1499 {
			t.Errorf("Verify with %d workers checked %d entries before the break, want 1499", workers, rep.Checked)
		}
	}
}
