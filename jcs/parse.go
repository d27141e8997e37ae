package jcs

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Parse decodes the JSON text data into a value tree of map[string]any,
// []any, string, int64, float64, bool and nil, which Append accepts.
//
// An integer literal decodes to int64 and any other number to float64.
// When an object repeats a member name, the last value wins. Whitespace may
// surround the value, and anything else after it is an error. A syntax error
// names the byte offset and does not wrap ErrOutOfDomain. The package
// documentation lists the values that are out of domain.
func Parse(data []byte) (any, error) {
	p := parser{data: data}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return nil, p.syntaxError("unexpected " + describeByte(p.data[p.pos]) + " after top-level value")
	}
	return v, nil
}

// parser is a recursive descent parser over data. pos is the offset of the
// next byte to read, and depth is the number of arrays and objects open at
// pos.
type parser struct {
	data  []byte
	pos   int
	depth int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value decodes the value at pos, which is after any whitespace.
func (p *parser) value() (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.syntaxError("unexpected end of input, expected a value")
	}

	switch c := p.data[p.pos]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return s, nil
	case 't':
		return p.literal("true", true)
	case 'f':
		return p.literal("false", false)
	case 'n':
		return p.literal("null", nil)
	default:
		if c == '-' || isDigit(c) {
			return p.number()
		}
		return nil, p.syntaxError("unexpected " + describeByte(c) + ", expected a value")
	}
}

// literal reads the literal name at pos and returns its value v.
func (p *parser) literal(name string, v any) (any, error) {
	for i := range len(name) {
		if p.pos+i >= len(p.data) || p.data[p.pos+i] != name[i] {
			return nil, p.syntaxError("invalid literal, expected " + name)
		}
	}
	p.pos += len(name)
	return v, nil
}

func (p *parser) number() (any, error) {
	start := p.pos
	length, integer, ok := scanNumber(p.data[start:])
	if !ok {
		return nil, p.syntaxErrorAt(start+length, "invalid number literal")
	}
	p.pos += length

	literal := p.data[start:p.pos]
	if integer {
		n, err := integerValue(literal)
		if err != nil {
			return nil, fmt.Errorf("%w at offset %d", err, start)
		}
		return n, nil
	}
	f, err := floatValue(literal)
	if err != nil {
		return nil, fmt.Errorf("%w at offset %d", err, start)
	}
	return f, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return fmt.Errorf("%w: arrays and objects nested deeper than %d at offset %d", ErrOutOfDomain, MaxDepth, p.pos)
	}
	return nil
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '['
	elements := []any{}

	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return elements, nil
	}
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		elements = append(elements, v)

		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntaxError("unexpected end of input, expected ',' or ']'")
		}
		switch c := p.data[p.pos]; c {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return elements, nil
		default:
			return nil, p.syntaxError("unexpected " + describeByte(c) + " after array element, expected ',' or ']'")
		}
	}
}

func (p *parser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '{'
	members := map[string]any{}

	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return members, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntaxError("unexpected end of input, expected a member name")
		}
		if c := p.data[p.pos]; c != '"' {
			return nil, p.syntaxError("unexpected " + describeByte(c) + ", expected a member name")
		}
		name, err := p.string()
		if err != nil {
			return nil, err
		}

		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntaxError("unexpected end of input, expected ':'")
		}
		if c := p.data[p.pos]; c != ':' {
			return nil, p.syntaxError("unexpected " + describeByte(c) + " after member name, expected ':'")
		}
		p.pos++

		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		members[name] = v

		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntaxError("unexpected end of input, expected ',' or '}'")
		}
		switch c := p.data[p.pos]; c {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return members, nil
		default:
			return nil, p.syntaxError("unexpected " + describeByte(c) + " after member value, expected ',' or '}'")
		}
	}
}

// string decodes the string that starts at pos with '"'.
func (p *parser) string() (string, error) {
	start := p.pos + 1

	// Fast path: a string without escapes is a copy of its bytes.
	ascii := true
	for i := start; i < len(p.data); i++ {
		c := p.data[i]
		switch {
		case c == '"':
			raw := p.data[start:i]
			if !ascii && !utf8.Valid(raw) {
				return "", p.invalidUTF8(start, i)
			}
			p.pos = i + 1
			return string(raw), nil
		case c == '\\':
			return p.escapedString(start, i)
		case c < 0x20:
			return "", p.syntaxErrorAt(i, "control character "+describeByte(c)+" in string, which must be escaped")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", p.syntaxErrorAt(len(p.data), "unexpected end of input in string")
}

// escapedString decodes the string whose content starts at start and whose
// first escape is at i.
func (p *parser) escapedString(start, i int) (string, error) {
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, p.data[start:i]...)
	if !utf8.Valid(buf) {
		return "", p.invalidUTF8(start, i)
	}

	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			return "", p.syntaxErrorAt(i, "control character "+describeByte(c)+" in string, which must be escaped")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.invalidUTF8(i, i+1)
			}
			buf = append(buf, p.data[i:i+size]...)
			i += size
		case c != '\\':
			buf = append(buf, c)
			i++
		default:
			var err error
			buf, i, err = p.appendEscape(buf, i)
			if err != nil {
				return "", err
			}
		}
	}
	return "", p.syntaxErrorAt(len(p.data), "unexpected end of input in string")
}

// appendEscape decodes the escape sequence at i, appends its character to
// buf and returns the offset after the sequence.
func (p *parser) appendEscape(buf []byte, i int) ([]byte, int, error) {
	if i+1 >= len(p.data) {
		return nil, 0, p.syntaxErrorAt(len(p.data), "unexpected end of input in string")
	}

	switch c := p.data[i+1]; c {
	case '"', '\\', '/':
		return append(buf, c), i + 2, nil
	case 'b':
		return append(buf, '\b'), i + 2, nil
	case 'f':
		return append(buf, '\f'), i + 2, nil
	case 'n':
		return append(buf, '\n'), i + 2, nil
	case 'r':
		return append(buf, '\r'), i + 2, nil
	case 't':
		return append(buf, '\t'), i + 2, nil
	case 'u':
		// Handled below.
	default:
		return nil, 0, p.syntaxErrorAt(i, "invalid escape sequence, backslash followed by "+describeByte(c))
	}

	r, err := p.hex4(i + 2)
	if err != nil {
		return nil, 0, err
	}
	next := i + 6
	if utf16.IsSurrogate(r) {
		// A surrogate is valid only as the first half of a pair that the
		// next \u escape completes.
		var low rune = utf8.RuneError
		if r < 0xDC00 && next+1 < len(p.data) && p.data[next] == '\\' && p.data[next+1] == 'u' {
			low, err = p.hex4(next + 2)
			if err != nil {
				return nil, 0, err
			}
		}
		r = utf16.DecodeRune(r, low)
		if r == utf8.RuneError {
			return nil, 0, fmt.Errorf("%w: escape \\u%s at offset %d is a lone surrogate", ErrOutOfDomain, p.data[i+2:i+6], i)
		}
		next += 6
	}
	return utf8.AppendRune(buf, r), next, nil
}

// hex4 decodes the four hex digits of a \u escape at i.
func (p *parser) hex4(i int) (rune, error) {
	if i+4 > len(p.data) {
		return 0, p.syntaxErrorAt(i-2, "unexpected end of input in \\u escape")
	}
	var r rune
	for _, c := range p.data[i : i+4] {
		var digit byte
		switch {
		case '0' <= c && c <= '9':
			digit = c - '0'
		case 'a' <= c && c <= 'f':
			digit = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			digit = c - 'A' + 10
		default:
			return 0, p.syntaxErrorAt(i-2, "invalid \\u escape, expected four hex digits")
		}
		r = r<<4 | rune(digit)
	}
	return r, nil
}

// invalidUTF8 returns the error for the first byte in data[start:end] that
// is not valid UTF-8.
func (p *parser) invalidUTF8(start, end int) error {
	offset := start
	for offset < end {
		r, size := utf8.DecodeRune(p.data[offset:end])
		if r == utf8.RuneError && size == 1 {
			break
		}
		offset += size
	}
	return fmt.Errorf("%w: string is not valid UTF-8 at offset %d", ErrOutOfDomain, offset)
}

func (p *parser) syntaxError(msg string) error {
	return p.syntaxErrorAt(p.pos, msg)
}

func (p *parser) syntaxErrorAt(offset int, msg string) error {
	return fmt.Errorf("jcs: invalid JSON at offset %d: %s", offset, msg)
}

// describeByte names c for an error message: printable ASCII as a quoted
// character, anything else as hex.
func describeByte(c byte) string {
	if 0x20 < c && c < 0x7F {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
