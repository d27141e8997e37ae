package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func TestImportVectorSpans(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.db")
	vars := map[string]string{secretEnvName: pythonSecretHex}
	r := runCLI(t, vars, "import", "--db", db, filepath.Join(pythonVectorsDir, "spans.otlp.json"))
	if r.code != exitOK {
		t.Fatalf("import exit = %d, want 0; stderr: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "Imported 11 spans into ") {
		t.Errorf("import stdout = %q, want it to report 11 spans", r.stdout)
	}

	data, err := os.ReadFile(filepath.Join(pythonVectorsDir, "rows.json"))
	if err != nil {
		t.Fatalf("read rows.json: %v", err)
	}
	var vectors struct {
		Rows []struct {
			SpanID           string  `json:"span_id"`
			SemanticBodyHash *string `json:"semantic_body_hash"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatalf("parse rows.json: %v", err)
	}
	var want []string
	for _, row := range vectors.Rows {
		if row.SemanticBodyHash != nil {
			want = append(want, row.SpanID+" "+*row.SemanticBodyHash)
		}
	}

	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT span_id, semantic_body_hash FROM chain ORDER BY seq`)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, hash string
		if err := rows.Scan(&id, &hash); err != nil {
			t.Fatalf("scan: %v", err)
		}
		got = append(got, id+" "+hash)
	}
	if len(got) != 11 {
		t.Fatalf("chain has %d rows, want 11", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d span_id and semantic hash = %s, want %s", i+1, got[i], want[i])
		}
	}

	v := runCLI(t, vars, "verify", "--db", db)
	if v.code != exitOK || v.stdout != "Chain VALID (11 entries).\n" {
		t.Errorf("verify after import = exit %d, %q; want 0, Chain VALID (11 entries).", v.code, v.stdout)
	}
}

func TestImportRejectsBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff7","spanId":"eee19b7ec3c1b174","name":"x","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}]}]}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "chain.db")
	r := runCLI(t, map[string]string{secretEnvName: pythonSecretHex}, "import", "--db", db, bad)
	if r.code != exitError {
		t.Errorf("import exit = %d, want %d", r.code, exitError)
	}
	if !strings.Contains(r.stderr, "traceId") {
		t.Errorf("import stderr = %q, want it to name traceId", r.stderr)
	}
}
