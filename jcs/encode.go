package jcs

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Raw is JSON text that the caller guarantees is already canonical. Append
// copies it verbatim and checks only that it is not empty.
type Raw []byte

// Append appends the canonical form of v to dst and returns the extended
// buffer.
//
// v must be nil, a bool, a string, an int, int8, int16, int32, int64, uint,
// uint8, uint16, uint32, uint64, float32 or float64, a json.Number, a Raw, a
// map[string]any, a []any, a []string, a []bool, a []int64 or a []float64.
// Maps and []any must contain only these types.
// A nil map or slice is written as {} or [], not null. A float32 is widened
// to the float64 of the same value, so float32(0.1) is written as
// 0.10000000149011612. A json.Number is written by its numeric value with
// the rules of Parse. A []byte is rejected, because JSON has no byte string
// and the caller must choose its text form.
//
// An error about a value outside the RFC 8785 domain wraps ErrOutOfDomain.
// On error, Append returns dst with its original length and contents, and
// the bytes that it wrote past that length are unspecified.
func Append(dst []byte, v any) ([]byte, error) {
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// marshalCapacity is the initial buffer size of Marshal, which fits a small
// span body without growing the buffer.
const marshalCapacity = 512

// Marshal returns the canonical form of v. It accepts the values that Append
// accepts.
func Marshal(v any) ([]byte, error) {
	out, err := appendValue(make([]byte, 0, marshalCapacity), v, 0)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Transform returns the canonical form of the JSON text data. It is Parse
// followed by Marshal, and it returns their errors.
func Transform(data []byte) ([]byte, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, err
	}
	out, err := appendValue(make([]byte, 0, len(data)), v, 0)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendValue appends v, which is nested inside depth arrays and objects.
func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendString(dst, v)

	case int:
		return appendInt(dst, int64(v))
	case int8:
		return appendInt(dst, int64(v))
	case int16:
		return appendInt(dst, int64(v))
	case int32:
		return appendInt(dst, int64(v))
	case int64:
		return appendInt(dst, v)
	case uint:
		return appendUint(dst, uint64(v))
	case uint8:
		return appendUint(dst, uint64(v))
	case uint16:
		return appendUint(dst, uint64(v))
	case uint32:
		return appendUint(dst, uint64(v))
	case uint64:
		return appendUint(dst, v)
	case float32:
		return appendFloat(dst, float64(v))
	case float64:
		return appendFloat(dst, v)
	case json.Number:
		return appendNumber(dst, v)

	case Raw:
		if len(v) == 0 {
			return dst, fmt.Errorf("jcs: empty Raw value, expected canonical JSON text")
		}
		return append(dst, v...), nil
	case map[string]any:
		return appendObject(dst, v, depth+1)
	case []any:
		return appendArray(dst, v, depth+1, appendValue)
	case []string:
		return appendArray(dst, v, depth+1, appendStringElement)
	case []bool:
		return appendArray(dst, v, depth+1, appendBoolElement)
	case []int64:
		return appendArray(dst, v, depth+1, appendInt64Element)
	case []float64:
		return appendArray(dst, v, depth+1, appendFloat64Element)

	case []byte:
		return dst, fmt.Errorf("jcs: unsupported type []byte: encode the bytes as a string, for example in base64")
	default:
		return dst, fmt.Errorf("jcs: unsupported type %T, see Append for the supported types", v)
	}
}

// appendArray appends the elements of an array at the given depth, each
// written by appendElement.
func appendArray[E any](dst []byte, elements []E, depth int, appendElement func([]byte, E, int) ([]byte, error)) ([]byte, error) {
	if depth > MaxDepth {
		return dst, errTooDeep()
	}

	dst = append(dst, '[')
	for i, element := range elements {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		dst, err = appendElement(dst, element, depth)
		if err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func appendStringElement(dst []byte, s string, _ int) ([]byte, error) {
	return appendString(dst, s)
}

func appendBoolElement(dst []byte, b bool, _ int) ([]byte, error) {
	if b {
		return append(dst, "true"...), nil
	}
	return append(dst, "false"...), nil
}

func appendInt64Element(dst []byte, n int64, _ int) ([]byte, error) {
	return appendInt(dst, n)
}

func appendFloat64Element(dst []byte, f float64, _ int) ([]byte, error) {
	return appendFloat(dst, f)
}

// member is an object member, collected so that members can be sorted
// without looking each name up again.
type member struct {
	name  string
	value any
}

// smallObject is the member count up to which appendObject sorts members in
// a buffer on the stack instead of allocating one.
const smallObject = 16

// appendObject appends the members of m, sorted by name, at the given depth.
func appendObject(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, errTooDeep()
	}

	var buf [smallObject]member
	members := buf[:0]
	if len(m) > smallObject {
		members = make([]member, 0, len(m))
	}
	for name, value := range m {
		// compareUTF16 orders valid UTF-8 only, so names are checked
		// before sorting.
		if !utf8.ValidString(name) {
			return dst, errInvalidUTF8(name)
		}
		members = append(members, member{name: name, value: value})
	}
	slices.SortFunc(members, func(a, b member) int {
		return compareUTF16(a.name, b.name)
	})

	dst = append(dst, '{')
	for i, member := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValidString(dst, member.name)
		dst = append(dst, ':')
		var err error
		dst, err = appendValue(dst, member.value, depth)
		if err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendNumber appends a json.Number by its numeric value, with the rules
// that Parse applies to number literals.
func appendNumber(dst []byte, n json.Number) ([]byte, error) {
	end, integer, ok := scanNumber(n)
	if !ok || end != len(n) {
		return dst, fmt.Errorf("jcs: invalid json.Number %q: not a JSON number literal", shorten(string(n)))
	}
	if integer {
		i, err := integerValue(n)
		if err != nil {
			return dst, err
		}
		return appendInt(dst, i)
	}
	f, err := floatValue(n)
	if err != nil {
		return dst, err
	}
	return appendFloat(dst, f)
}

// appendString appends s as a JSON string, or fails when s is not valid
// UTF-8.
func appendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, errInvalidUTF8(s)
	}
	return appendValidString(dst, s), nil
}

// appendValidString appends the valid UTF-8 string s as a JSON string with
// the escapes of RFC 8785 section 3.2.2.2.
func appendValidString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"

	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}

		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func errTooDeep() error {
	return fmt.Errorf("%w: arrays and objects nested deeper than %d", ErrOutOfDomain, MaxDepth)
}

func errInvalidUTF8(s string) error {
	offset := 0
	for offset < len(s) {
		r, size := utf8.DecodeRuneInString(s[offset:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		offset += size
	}
	return fmt.Errorf("%w: string %q is not valid UTF-8 at byte %d", ErrOutOfDomain, shorten(s), offset)
}
