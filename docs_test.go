package bijotel

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlock matches a fenced Go code block in Markdown.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestDocsGoBlocksCompile builds every Go code block of README.md and
// docs/*.md as a program of its own inside this module, so the docs cannot
// drift from the code. Each block must be a complete file.
func TestDocsGoBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds one program per code block")
	}
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "README.md")

	tmp, err := os.MkdirTemp(".", ".doccheck-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	var dirs []string
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range goBlock.FindAllStringSubmatch(string(data), -1) {
			src := m[1]
			name := strings.NewReplacer("/", "_", ".", "_").Replace(doc) + "_" + string(rune('a'+i))
			if !strings.HasPrefix(src, "package ") {
				t.Errorf("%s: Go block %d is not a complete file; start it with a package clause", doc, i+1)
				continue
			}
			dir := filepath.Join(tmp, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, "./"+filepath.ToSlash(dir))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("found no Go code blocks in README.md and docs/")
	}
	args := append([]string{"vet"}, dirs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Errorf("go vet of the docs' Go blocks failed: %v\n%s", err, out)
	}
	t.Logf("%d Go blocks compiled and vetted", len(dirs))
}
