package jcs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/bijotel/bijotel-go/jcs"
)

// pythonVectorsDir is the directory of chains written by an independent
// implementation of the Python chain format. Its canonical bodies were
// produced by other JCS implementations.
const pythonVectorsDir = "../testdata/python-v1"

func TestTransformPythonChainBodies(t *testing.T) {
	path := filepath.Join(pythonVectorsDir, "rows.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var file struct {
		Rows []struct {
			Seq           int    `json:"seq"`
			CanonicalBody string `json:"canonical_body"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if len(file.Rows) == 0 {
		t.Fatalf("%s contains no rows", path)
	}

	for _, row := range file.Rows {
		got, err := jcs.Transform([]byte(row.CanonicalBody))
		if err != nil {
			t.Errorf("row %d: Transform(%q) error = %v, want the input unchanged", row.Seq, row.CanonicalBody, err)
			continue
		}
		if string(got) != row.CanonicalBody {
			t.Errorf("row %d: Transform(%q) = %q, want %q", row.Seq, row.CanonicalBody, got, row.CanonicalBody)
		}
	}
}
