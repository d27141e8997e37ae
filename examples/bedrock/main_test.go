package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

// TestExampleRuns builds the example and runs it against the fake server on
// loopback; it must exit 0 and print the recorded spans.
func TestExampleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	srv, err := fakeprovider.NewBedrock()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(exampleEnv(), "AWS_ACCESS_KEY_ID=AKIDFAKEFORTESTS", "AWS_SECRET_ACCESS_KEY=fake-secret", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "BIJOTEL_EXAMPLE_BASE_URL="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("example failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"reply: " + fakeprovider.BedrockReplyText,
		"streamed reply: " + fakeprovider.BedrockReplyText,
		"gen_ai.provider.name = aws.bedrock",
		"gen_ai.request.stream = true",
		`gen_ai.usage.output_tokens = 9`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(string(out), "span \""); n != 2 {
		t.Errorf("output has %d spans, want 2:\n%s", n, out)
	}
}

// exampleEnv returns the test's environment without the variables that
// could point the example at a real provider.
func exampleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		skip := strings.HasPrefix(name, "BIJOTEL_EXAMPLE_")
		for _, prefix := range []string{"AWS_"} {
			skip = skip || strings.HasPrefix(name, prefix)
		}
		if !skip {
			env = append(env, kv)
		}
	}
	return env
}
