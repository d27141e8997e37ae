package otlp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	bijotel "github.com/bijotel/bijotel-go"
)

// fileCall is one call of ReadFile's fn.
type fileCall struct {
	line  int
	names []string
}

// readAll runs ReadFile on content and returns its calls of fn.
func readAll(content string) ([]fileCall, error) {
	return readAllFrom(strings.NewReader(content))
}

func readAllFrom(r io.Reader) ([]fileCall, error) {
	var calls []fileCall
	err := ReadFile(r, func(line int, spans []bijotel.Span) error {
		call := fileCall{line: line}
		for _, s := range spans {
			call.names = append(call.names, s.Name)
		}
		calls = append(calls, call)
		return nil
	})
	return calls, err
}

// requestNamed returns requestR1 with the span renamed to name.
func requestNamed(name string) string {
	return strings.Replace(requestR1, `"chat claude-haiku-4-5"`, `"`+name+`"`, 1)
}

func TestReadFileJSONLines(t *testing.T) {
	content := requestNamed("first") + "\n" +
		requestNamed("second") + "\r\n" +
		"\n" +
		"  \t\n" +
		requestNamed("third") // no final line break

	calls, err := readAll(content)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	want := []fileCall{
		{line: 1, names: []string{"first"}},
		{line: 2, names: []string{"second"}},
		{line: 5, names: []string{"third"}},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("ReadFile calls = %v, want %v", calls, want)
	}
}

func TestReadFileJSONLinesAfterBlankLines(t *testing.T) {
	content := "\xef\xbb\xbf\n\n" + requestNamed("first") + "\n" + requestNamed("second") + "\n"

	calls, err := readAll(content)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	want := []fileCall{
		{line: 3, names: []string{"first"}},
		{line: 4, names: []string{"second"}},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("ReadFile calls = %v, want %v", calls, want)
	}
}

// prettyRequestR1 returns requestR1 indented over many lines.
func prettyRequestR1(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(requestR1), "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestReadFilePrettyPrintedRequest(t *testing.T) {
	pretty := prettyRequestR1(t)
	if strings.Count(pretty, "\n") < 10 {
		t.Fatalf("indented request has %d lines, want many", strings.Count(pretty, "\n"))
	}

	calls, err := readAll(pretty + "\n")
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	want := []fileCall{{line: 1, names: []string{"chat claude-haiku-4-5"}}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("ReadFile calls = %v, want %v", calls, want)
	}
}

func TestReadFilePrettyPrintedSyntaxError(t *testing.T) {
	pretty := prettyRequestR1(t)
	lines := strings.Split(pretty, "\n")
	lines[6] = strings.Replace(lines[6], ":", "", 1)
	content := strings.Join(lines, "\n")

	_, err := readAll(content)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ReadFile error = %v, want one wrapping ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "line 7: malformed JSON") {
		t.Errorf("ReadFile error = %q, want it to contain %q", err, "line 7: malformed JSON")
	}
}

func TestReadFilePrettyPrintedInvalidID(t *testing.T) {
	pretty := strings.Replace(prettyRequestR1(t), "5B8EFFF798038103D269B633813FC60C", "W47/95gDgQPSabYzgT/GDA==", 1)

	_, err := readAll(pretty)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ReadFile error = %v, want one wrapping ErrInvalid", err)
	}
	want := "request starting at line 1: resourceSpans[0].scopeSpans[0].spans[0].traceId"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("ReadFile error = %q, want it to contain %q", err, want)
	}
}

func TestReadFileBadLine(t *testing.T) {
	content := requestNamed("first") + "\n" +
		strings.Replace(requestR1, "5B8EFFF798038103D269B633813FC60C", "5b8efff7", 1) + "\n" +
		requestNamed("third") + "\n"

	calls, err := readAll(content)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ReadFile error = %v, want one wrapping ErrInvalid", err)
	}
	want := "line 2: resourceSpans[0].scopeSpans[0].spans[0].traceId"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("ReadFile error = %q, want it to contain %q", err, want)
	}
	if wantCalls := []fileCall{{line: 1, names: []string{"first"}}}; !reflect.DeepEqual(calls, wantCalls) {
		t.Errorf("ReadFile calls = %v, want %v", calls, wantCalls)
	}
}

func TestReadFileIncompleteLine(t *testing.T) {
	content := requestNamed("first") + "\n{\n"

	_, err := readAll(content)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ReadFile error = %v, want one wrapping ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "line 2: malformed JSON") {
		t.Errorf("ReadFile error = %q, want it to contain %q", err, "line 2: malformed JSON")
	}
}

func TestReadFileLongLine(t *testing.T) {
	// Longer than bufio.Scanner's 64 KiB limit and bufio.Reader's buffer.
	long := strings.Repeat("x", 300_000)
	request := strings.Replace(requestR1, `"stringValue":"anthropic"`, `"stringValue":"`+long+`"`, 1)
	content := requestNamed("first") + "\n" + request + "\n"

	var got []bijotel.Span
	err := ReadFile(strings.NewReader(content), func(line int, spans []bijotel.Span) error {
		got = append(got, spans...)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("ReadFile returned %d spans, want 2", len(got))
	}
	if value, _ := got[1].Attributes[0].Value.(string); value != long {
		t.Errorf("long attribute has %d characters, want %d", len(value), len(long))
	}
}

func TestReadFileEmpty(t *testing.T) {
	for _, content := range []string{"", "\n", " \r\n\t\n"} {
		calls, err := readAll(content)
		if err != nil {
			t.Errorf("ReadFile(%q): %v", content, err)
		}
		if len(calls) != 0 {
			t.Errorf("ReadFile(%q) called fn %d times, want 0", content, len(calls))
		}
	}
}

func TestReadFileRequestWithoutSpans(t *testing.T) {
	calls, err := readAll("{}\n" + requestNamed("second") + "\n")
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	want := []fileCall{{line: 1}, {line: 2, names: []string{"second"}}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("ReadFile calls = %v, want %v", calls, want)
	}
}

func TestReadFileCallbackError(t *testing.T) {
	stop := errors.New("stop here")
	content := requestNamed("first") + "\n" + requestNamed("second") + "\n"

	calls := 0
	err := ReadFile(strings.NewReader(content), func(line int, spans []bijotel.Span) error {
		calls++
		return stop
	})
	if err != stop {
		t.Errorf("ReadFile error = %v, want the error fn returned", err)
	}
	if calls != 1 {
		t.Errorf("fn was called %d times, want 1", calls)
	}
}

func TestReadFileReaderError(t *testing.T) {
	readErr := errors.New("disk failed")
	r := io.MultiReader(strings.NewReader(requestNamed("first")+"\n"), iotest.ErrReader(readErr))

	calls, err := readAllFrom(r)
	if !errors.Is(err, readErr) {
		t.Fatalf("ReadFile error = %v, want one wrapping the reader's error", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("ReadFile error = %v wraps ErrInvalid, want only the reader's error", err)
	}
	if !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ReadFile error = %q, want it to contain %q", err, "line 2")
	}
	if len(calls) != 1 {
		t.Errorf("fn was called %d times, want 1", len(calls))
	}
}

func TestReadFileReaderErrorInWholeRequest(t *testing.T) {
	readErr := errors.New("disk failed")
	r := io.MultiReader(strings.NewReader("{\n"), iotest.ErrReader(readErr))

	_, err := readAllFrom(r)
	if !errors.Is(err, readErr) {
		t.Errorf("ReadFile error = %v, want one wrapping the reader's error", err)
	}
}
