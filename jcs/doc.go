// Package jcs implements the JSON Canonicalization Scheme (JCS) of RFC 8785,
// a serialization in which every JSON value has exactly one byte sequence, so
// that the bytes can be hashed and signed.
//
// Append and Marshal encode Go values, Parse decodes JSON text into the value
// tree that Append accepts, and Transform canonicalizes JSON text.
//
// # Output
//
// Canonical output contains no whitespace. Object members are sorted by the
// UTF-16 code units of their names, not by their UTF-8 bytes. Strings escape
// only '"', '\' and the control characters U+0000 to U+001F (\b, \t, \n, \f
// and \r in short form, the others as \u00xx with lowercase hex). Every other
// character is written as UTF-8, including '<', '>', '&', U+007F, U+2028 and
// U+2029. Numbers are written as ECMAScript's Number::toString writes an IEEE
// 754 double: the shortest digits that read back to the same double, in fixed
// notation when 1e-6 <= |x| < 1e21 and in exponential notation ("1e-7",
// "1e+21") otherwise. Negative zero is written as 0.
//
// # Domain
//
// RFC 8785 covers the I-JSON values of RFC 7493. Append, Marshal, Parse and
// Transform reject every value outside that domain with an error that wraps
// ErrOutOfDomain, except inside a Raw value, which Append copies unchecked:
//   - an integer beyond ±(2^53−1), whether a Go integer type, a json.Number or
//     an integer literal in parsed text;
//   - a float that is NaN or ±Inf, including a literal such as 1e400 that
//     overflows a double;
//   - a string or object member name that is not valid UTF-8, including a \u
//     escape in parsed text that decodes to a lone surrogate such as "\ud800";
//   - arrays and objects nested deeper than MaxDepth.
//
// Floats are not range-checked: 1e20 and 2^53 as a float64 are valid doubles
// and are written with the number rules above. A float whose value is an
// integer beyond 2^53−1 and below 1e21 is therefore written as an integer
// literal, such as 100000000000000000000 for 1e20, and Parse rejects that
// literal. NOTE: Transform therefore fails on canonical text that contains
// such a number, and so does json.loads followed by rfc8785. Verify stored
// canonical bytes as they are instead of canonicalizing them again.
//
// # Parsing
//
// Parse gives the same result as Python's json.loads followed by the
// rfc8785 Python package, so that text sealed by either implementation
// canonicalizes to the same bytes. Duplicate object member names keep the last
// value. An integer literal (no fraction and no exponent) decodes to int64 and
// must be within ±(2^53−1), and every other number literal decodes to float64.
// Text that is not JSON as RFC 8259 defines it is a syntax error that names the
// byte offset and does not wrap ErrOutOfDomain. Parse is stricter than
// json.loads of CPython 3.11 in two places. It rejects the NaN and Infinity
// literals, which json.loads accepts and rfc8785 then rejects as non-finite.
// It also rejects a leading UTF-8 byte order mark, which json.loads skips in
// bytes input.
package jcs

import "errors"

// ErrOutOfDomain is wrapped by every error about a value that RFC 8785 cannot
// represent. The package documentation lists those values.
var ErrOutOfDomain = errors.New("jcs: value outside the RFC 8785 domain")

// MaxDepth is the maximum nesting of arrays and objects that Parse and Append
// accept. A top-level array or object is at depth 1.
const MaxDepth = 1000
