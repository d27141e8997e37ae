package bijotel

import "strings"

// Filter decides which spans are sealed.
type Filter func(*Span) bool

// DefaultFilter accepts a span that has at least one attribute whose key
// starts with "gen_ai." or "bijotel.mcp.", the rule Python BIJOTEL applies.
func DefaultFilter(s *Span) bool {
	for _, a := range s.Attributes {
		if IsSealedKey(a.Key) {
			return true
		}
	}
	return false
}

// AllSpans accepts every span.
func AllSpans(*Span) bool { return true }

// IsSealedKey reports whether an attribute key makes DefaultFilter accept
// its span.
func IsSealedKey(key string) bool {
	return strings.HasPrefix(key, "gen_ai.") || strings.HasPrefix(key, "bijotel.mcp.")
}
