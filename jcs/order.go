package jcs

// compareUTF16 compares two valid UTF-8 strings by their UTF-16 code units,
// the order of RFC 8785 section 3.2.3, without converting them to UTF-16.
//
// UTF-8 byte order equals code point order, and UTF-16 code unit order
// differs from code point order in one case only. A character above U+FFFF
// is written as a surrogate pair whose first unit is in U+D800–U+DBFF, so it
// sorts before the characters U+E000–U+FFFF. In UTF-8 those characters start
// with byte 0xEE or 0xEF and characters above U+FFFF start with 0xF0 to 0xF4.
//
// Up to the first differing byte both strings share their character
// boundaries, so the two differing bytes are either both lead bytes or both
// continuation bytes of characters with the same lead byte. Only differing
// lead bytes from those two groups need the order reversed.
func compareUTF16(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		// One string is a prefix of the other.
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		default:
			return 0
		}
	}

	x, y := a[i], b[i]
	if x >= 0xEE && y >= 0xEE && (x >= 0xF0) != (y >= 0xF0) {
		// One character is in U+E000–U+FFFF, the other above U+FFFF, which
		// UTF-16 sorts first.
		if x >= 0xF0 {
			return -1
		}
		return 1
	}
	if x < y {
		return -1
	}
	return 1
}
