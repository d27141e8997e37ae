package otlp // import "github.com/bijotel/bijotel-go/otlp"

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	bijotel "github.com/bijotel/bijotel-go"
)

// ReadFile reads OTLP/JSON ExportTraceServiceRequests from r, either one
// request per line (JSON Lines) as the OpenTelemetry Collector's file
// exporter writes them, or one request for all of r, which may be
// pretty-printed over many lines. ReadFile calls fn for each request in order, with the
// request's spans, converted as [Spans] does, and its 1-based line number. A
// request for all of r gets line 1. A request without spans gets a call with
// no spans.
//
// ReadFile treats r as JSON Lines when its first non-blank line is a complete
// JSON object, and then skips blank lines. Otherwise it reads all of r as one
// request. It keeps one line at a time in memory, or all of r for a single
// request, and a line may have any length.
//
// An error that the data causes wraps [ErrInvalid] and names the line. An
// error from r is wrapped with the line number. An error from fn stops
// ReadFile and is returned unchanged. An empty or blank r is not an error.
func ReadFile(r io.Reader, fn func(line int, spans []bijotel.Span) error) error {
	lines := &lineReader{r: bufio.NewReader(r)}
	for {
		line, err := lines.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}

		if lines.number == 1 {
			line = bytes.TrimPrefix(line, []byte(utf8BOM))
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 {
			continue
		}

		if trimmed[0] == '{' && json.Valid(trimmed) {
			return readJSONLines(lines, trimmed, fn)
		}
		return readWholeRequest(lines, line, fn)
	}
}

// utf8BOM is the byte order mark that some editors put at the start of a
// UTF-8 file. JSON parsers reject it.
const utf8BOM = "\xef\xbb\xbf"

// readJSONLines decodes first, the line that lines returned last, and then
// every further non-blank line of lines as one request.
func readJSONLines(lines *lineReader, first []byte, fn func(int, []bijotel.Span) error) error {
	line := first
	for {
		spans, err := decodeJSON(line)
		if err != nil {
			return invalidf("line %d: %w", lines.number, err)
		}
		if err := fn(lines.number, spans); err != nil {
			return err
		}

		for {
			line, err = lines.next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			line = bytes.TrimSpace(line)
			if len(line) > 0 {
				break
			}
		}
	}
}

// readWholeRequest decodes first, the line that lines returned last, and
// the rest of lines as one request.
func readWholeRequest(lines *lineReader, first []byte, fn func(int, []bijotel.Span) error) error {
	firstLine := lines.number

	var data bytes.Buffer
	data.Write(first)
	if _, err := data.ReadFrom(lines.r); err != nil {
		return fmt.Errorf("otlp: read request starting at line %d: %w", firstLine, err)
	}

	if !json.Valid(data.Bytes()) {
		offset, err := findSyntaxError(data.Bytes())
		line := firstLine + bytes.Count(data.Bytes()[:offset], []byte("\n"))
		return invalidf("line %d: malformed JSON: %w", line, err)
	}
	spans, err := decodeJSON(data.Bytes())
	if err != nil {
		return invalidf("request starting at line %d: %w", firstLine, err)
	}
	return fn(1, spans)
}

// lineReader reads lines of any length from r and counts them.
type lineReader struct {
	r *bufio.Reader
	// buf contains the line returned last, and is reused for the next one.
	buf []byte
	// number is the 1-based number of the line returned last.
	number int
}

// next returns the next line with its line ending, which may be missing on
// the last line. The line is valid until the next call. next returns io.EOF
// when no line is left.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.buf = append(lr.buf, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.buf) == 0:
			return nil, io.EOF
		case err != nil && !errors.Is(err, io.EOF):
			return nil, fmt.Errorf("otlp: read line %d: %w", lr.number+1, err)
		}
		lr.number++
		return lr.buf, nil
	}
}
