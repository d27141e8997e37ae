package jcs

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// orderRunes contains characters on both sides of every UTF-8 length and
// around the surrogate range, where UTF-16 order and code point order part.
var orderRunes = []rune{
	0x00, 0x0D, '1', 'A', 'a', 0x7F,
	0x80, 0xF6, 0x7FF,
	0x800, 0x20AC, 0xD7FF, 0xE000, 0xFB33, 0xFF61, 0xFFFD, 0xFFFF,
	0x10000, 0x1F600, 0x1F602, 0x10FFFF,
}

func randomKey(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(4) {
		b.WriteRune(orderRunes[rng.IntN(len(orderRunes))])
	}
	return b.String()
}

// referenceCompare compares a and b by converting them to UTF-16.
func referenceCompare(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	default:
		return 0
	}
}

func TestCompareUTF16Examples(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "a", -1},
		{"a", "ab", -1},
		{"b", "ab", 1},
		{"😀", "｡", -1},
		{"｡", "😀", 1},
		{"\uffff", "\U00010000", 1},
		{"\ud7ff", "\U00010000", -1},
		{"\ue000", "\U0010ffff", 1},
		{"😀", "😂", -1},
		{"x😀", "x\ufb33", -1},
		{"é", "e", 1},
	}
	for _, tc := range cases {
		if got := sign(compareUTF16(tc.a, tc.b)); got != tc.want {
			t.Errorf("compareUTF16(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCompareUTF16MatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		a, b := randomKey(rng), randomKey(rng)
		if rng.IntN(4) == 0 {
			// Shared prefixes make the first difference fall after the
			// first character.
			b = a + b
		}
		want := sign(referenceCompare(a, b))
		if got := sign(compareUTF16(a, b)); got != want {
			t.Fatalf("compareUTF16(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}

func TestMarshalKeyOrderMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		m := map[string]any{}
		for i := range 40 {
			m[randomKey(rng)] = i
		}
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal error = %v", err)
		}

		got := memberNames(t, out)
		want := make([]string, 0, len(m))
		for name := range m {
			want = append(want, name)
		}
		slices.SortFunc(want, referenceCompare)
		if !slices.Equal(got, want) {
			t.Fatalf("Marshal member order = %q, want %q", got, want)
		}
	}
}

// memberNames returns the member names of the JSON object text in the
// order they appear.
func memberNames(t *testing.T, text []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(text)))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("decoding %q: %v", text, err)
	}
	var names []string
	for dec.More() {
		token, err := dec.Token()
		if err != nil {
			t.Fatalf("decoding %q: %v", text, err)
		}
		names = append(names, token.(string))
		var value any
		if err := dec.Decode(&value); err != nil {
			t.Fatalf("decoding %q: %v", text, err)
		}
	}
	return names
}
