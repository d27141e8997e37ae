package httpbody

import "bytes"

// MaxBuffered caps the bytes of a JSON response body, and of one line or
// one server-sent event, that an instrumentation keeps to parse. Past it the
// instrumentation stops parsing and marks the call incomplete, but the
// application still reads the whole body.
const MaxBuffered = 32 << 20

// SSEParser splits server-sent events as the HTML standard defines them and
// calls OnEvent for each one: the event name and the data lines joined by
// "\n". Lines may end in "\n" or "\r\n". Comments and unknown fields are
// skipped. The zero value with OnEvent set is ready to use.
type SSEParser struct {
	// OnEvent receives each event. data is valid only during the call.
	OnEvent func(name string, data []byte)

	line    []byte
	name    string
	data    []byte
	hasData bool
}

// Feed parses b, which may end anywhere in a line. It returns false once a
// line or an event exceeds MaxBuffered, after which the caller stops feeding
// the parser.
func (p *SSEParser) Feed(b []byte) bool {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			return len(p.line) <= MaxBuffered
		}
		p.line = append(p.line, b[:i]...)
		b = b[i+1:]
		p.field(bytes.TrimSuffix(p.line, []byte("\r")))
		p.line = p.line[:0]
		if len(p.data) > MaxBuffered {
			return false
		}
	}
	return true
}

// Flush dispatches an event that the body ended without a blank line after,
// including a last line without a line end.
func (p *SSEParser) Flush() {
	if len(p.line) > 0 {
		p.field(bytes.TrimSuffix(p.line, []byte("\r")))
		p.line = p.line[:0]
	}
	p.Dispatch()
}

// Dispatch dispatches the event whose lines have arrived, as the blank line
// that ends an event would. A line still without its line end is not part
// of the event, and is kept.
func (p *SSEParser) Dispatch() {
	p.field(nil)
}

func (p *SSEParser) field(line []byte) {
	if len(line) == 0 {
		if p.hasData {
			p.OnEvent(p.name, p.data)
		}
		p.name, p.data, p.hasData = "", nil, false
		return
	}
	name, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(name) {
	case "event":
		p.name = string(value)
	case "data":
		if p.hasData {
			p.data = append(p.data, '\n')
		}
		p.data = append(p.data, value...)
		p.hasData = true
	}
}
