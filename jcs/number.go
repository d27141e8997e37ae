package jcs

import (
	"fmt"
	"math"
	"strconv"
)

// maxSafeInteger is 2^53−1, the largest integer n such that every integer in
// [-n, n] is exactly representable as an IEEE 754 double. I-JSON (RFC 7493)
// limits integers to that range.
const maxSafeInteger = 1<<53 - 1

// maxSafeIntegerDigits is the number of decimal digits of maxSafeInteger.
// A JSON integer literal with more digits is out of range, because the
// grammar forbids leading zeros.
const maxSafeIntegerDigits = 16

// maxQuotedLiteral is the length at which error messages cut a number
// literal or string, so that a huge input does not make a huge message.
const maxQuotedLiteral = 40

func appendInt(dst []byte, v int64) ([]byte, error) {
	if v > maxSafeInteger || v < -maxSafeInteger {
		return dst, fmt.Errorf("%w: integer %d is outside the safe range ±(2^53−1)", ErrOutOfDomain, v)
	}
	return strconv.AppendInt(dst, v, 10), nil
}

func appendUint(dst []byte, v uint64) ([]byte, error) {
	if v > maxSafeInteger {
		return dst, fmt.Errorf("%w: integer %d is outside the safe range ±(2^53−1)", ErrOutOfDomain, v)
	}
	return strconv.AppendUint(dst, v, 10), nil
}

// appendFloat appends f as ECMAScript's Number::toString writes it, the rule
// of RFC 8785 section 3.2.2.3.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%w: number %v is not finite", ErrOutOfDomain, f)
	}
	if f == 0 {
		// Both zeros, because Number::toString writes -0 as "0".
		return append(dst, '0'), nil
	}
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInteger {
		// The doubles next to an integer below 2^53 are at most 1 away, so
		// Number::toString writes all of its integer digits.
		return strconv.AppendInt(dst, int64(f), 10), nil
	}

	// strconv writes the shortest digits that read back to f, which are the
	// digits Number::toString uses, as [-]d[.ddd]e±dd.
	var buf [32]byte
	text := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	if text[0] == '-' {
		dst = append(dst, '-')
		text = text[1:]
	}

	var digitBuf [24]byte
	digits := append(digitBuf[:0], text[0])
	i := 1
	if text[i] == '.' {
		i++
		for text[i] != 'e' {
			digits = append(digits, text[i])
			i++
		}
	}
	i++ // 'e'
	negativeExponent := text[i] == '-'
	exponent := 0
	for _, c := range text[i+1:] {
		exponent = exponent*10 + int(c-'0')
	}
	if negativeExponent {
		exponent = -exponent
	}

	return appendDecimal(dst, digits, exponent+1), nil
}

// appendDecimal lays out the decimal digits × 10^(n−len(digits)) as
// Number::toString does (ECMA-262, Number::toString step 6 onwards). The
// digits have no leading or trailing zeros.
func appendDecimal(dst, digits []byte, n int) []byte {
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		// An integer: the digits followed by n−k zeros.
		dst = append(dst, digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		// The decimal point falls inside the digits.
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		// A fraction below 1 with at most 6 zeros after the point.
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		exponent := n - 1
		if exponent < 0 {
			dst = append(dst, '-')
			exponent = -exponent
		} else {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(exponent), 10)
	}
	return dst
}

// scanNumber reads the JSON number literal at the start of s (RFC 8259
// section 6). It returns the literal's length and whether it is an integer
// literal, that is one without fraction and exponent. When s does not start
// with a valid literal, ok is false and end is the offset of the first byte
// that does not fit the grammar.
func scanNumber[T ~string | ~[]byte](s T) (end int, integer, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}

	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return i, false, false
	}
	integer = true

	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, false
		}
		i = skipDigits(s, i)
	}

	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, false
		}
		i = skipDigits(s, i)
	}

	return i, integer, true
}

func skipDigits[T ~string | ~[]byte](s T, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool {
	return '0' <= c && c <= '9'
}

// integerValue converts an integer literal that scanNumber accepted.
func integerValue[T ~string | ~[]byte](literal T) (int64, error) {
	digits := literal
	negative := digits[0] == '-'
	if negative {
		digits = digits[1:]
	}
	if len(digits) > maxSafeIntegerDigits {
		return 0, fmt.Errorf("%w: integer %s is outside the safe range ±(2^53−1)", ErrOutOfDomain, shorten(string(literal)))
	}

	var n int64
	for i := range len(digits) {
		n = n*10 + int64(digits[i]-'0')
	}
	if n > maxSafeInteger {
		return 0, fmt.Errorf("%w: integer %s is outside the safe range ±(2^53−1)", ErrOutOfDomain, string(literal))
	}
	if negative {
		n = -n
	}
	return n, nil
}

// floatValue converts a literal with fraction or exponent that scanNumber
// accepted. A literal too small for a double reads as zero of its sign, as
// it does with Python's json.loads.
func floatValue[T ~string | ~[]byte](literal T) (float64, error) {
	f, err := strconv.ParseFloat(string(literal), 64)
	if math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: number %s overflows a double", ErrOutOfDomain, shorten(string(literal)))
	}
	if err != nil {
		// Unreachable: ParseFloat accepts every literal that scanNumber
		// accepts, and its only other error is ErrRange with ±Inf.
		return 0, fmt.Errorf("jcs: invalid number %q: %w", shorten(string(literal)), err)
	}
	return f, nil
}

// shorten cuts s to maxQuotedLiteral bytes for an error message.
func shorten(s string) string {
	if len(s) <= maxQuotedLiteral {
		return s
	}
	return s[:maxQuotedLiteral] + "..."
}
