package httpbody

import (
	"bytes"
	"strings"
	"testing"
)

// eventLog returns a parser that appends each event to got as "name|data".
func eventLog(got *[]string) *SSEParser {
	return &SSEParser{OnEvent: func(name string, data []byte) { *got = append(*got, name+"|"+string(data)) }}
}

// The parser gives the same events whatever the read sizes, with CRLF line
// ends, comments and multi-line data.
func TestSSEParserSplitReads(t *testing.T) {
	input := ": comment\r\nevent: one\r\ndata: a\r\ndata: b\r\n\r\ndata: {\"x\":1}\n\ndata: last"
	want := []string{"one|a\nb", `|{"x":1}`, "|last"}
	for size := 1; size <= len(input); size++ {
		var got []string
		p := eventLog(&got)
		for i := 0; i < len(input); i += size {
			p.Feed([]byte(input[i:min(i+size, len(input))]))
		}
		p.Flush()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("read size %d: events = %q, want %q", size, got, want)
		}
	}
}

// Dispatch ends the event at its complete lines. A line without its line
// end stays and is completed by the next Feed.
func TestSSEParserDispatchKeepsPartialLine(t *testing.T) {
	var got []string
	p := eventLog(&got)
	p.Feed([]byte("event: one\ndata: a\ndata: b"))
	p.Dispatch()
	if want := "one|a"; len(got) != 1 || got[0] != want {
		t.Fatalf("events after Dispatch = %q, want [%q]", got, want)
	}

	p.Feed([]byte("c\n\n"))
	if want := "|bc"; len(got) != 2 || got[1] != want {
		t.Errorf("events after the line end = %q, want second event %q", got, want)
	}
}

func TestSSEParserDispatchWithoutData(t *testing.T) {
	var got []string
	p := eventLog(&got)
	p.Feed([]byte("event: ping\n: comment\n"))
	p.Dispatch()
	if len(got) != 0 {
		t.Errorf("events = %q, want none for an event without data", got)
	}
}

func TestSSEParserLineOverMax(t *testing.T) {
	var got []string
	p := eventLog(&got)
	if !p.Feed(bytes.Repeat([]byte("x"), MaxBuffered)) {
		t.Fatal("Feed of a line of MaxBuffered bytes returned false, want true")
	}
	if p.Feed([]byte("x")) {
		t.Error("Feed past MaxBuffered in one line returned true, want false")
	}
}

func TestSSEParserEventOverMax(t *testing.T) {
	var got []string
	p := eventLog(&got)
	line := append([]byte("data: "), bytes.Repeat([]byte("x"), MaxBuffered/2)...)
	line = append(line, '\n')
	if !p.Feed(line) {
		t.Fatal("Feed of the first half returned false, want true")
	}
	if p.Feed(line) {
		t.Error("Feed of data lines past MaxBuffered in one event returned true, want false")
	}
	if len(got) != 0 {
		t.Errorf("%d events dispatched, want none before a blank line", len(got))
	}
}
