package jcs_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bijotel/bijotel-go/jcs"
)

func TestAppendTypes(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"string", "a\"b\\c\n\u2028<é😀\x7f", "\"a\\\"b\\\\c\\n\u2028<é😀\x7f\""},
		{"int", int(-42), `-42`},
		{"int max safe", int(1<<53 - 1), `9007199254740991`},
		{"int min safe", int(-(1<<53 - 1)), `-9007199254740991`},
		{"int8", int8(math.MinInt8), `-128`},
		{"int16", int16(math.MaxInt16), `32767`},
		{"int32", int32(math.MinInt32), `-2147483648`},
		{"int64", int64(1<<53 - 1), `9007199254740991`},
		{"uint", uint(7), `7`},
		{"uint8", uint8(math.MaxUint8), `255`},
		{"uint16", uint16(math.MaxUint16), `65535`},
		{"uint32", uint32(math.MaxUint32), `4294967295`},
		{"uint64", uint64(1<<53 - 1), `9007199254740991`},
		{"float32 widened", float32(0.1), `0.10000000149011612`},
		{"float32 exact", float32(1.5), `1.5`},
		{"float64", 0.1, `0.1`},
		{"float64 integral", 3.0, `3`},
		{"float64 above safe integers", 1e20, `100000000000000000000`},
		{"float64 negative zero", math.Copysign(0, -1), `0`},
		{"json.Number integer", json.Number("-12"), `-12`},
		{"json.Number negative zero", json.Number("-0"), `0`},
		{"json.Number integral float", json.Number("1.0"), `1`},
		{"json.Number exponent", json.Number("1E21"), `1e+21`},
		{"json.Number fraction", json.Number("333333333.33333328"), `333333333.33333325`},
		{"Raw", jcs.Raw(`{"z":[1,"x"]}`), `{"z":[1,"x"]}`},
		{"map", map[string]any{"b": 1, "a": []any{true, nil}}, `{"a":[true,null],"b":1}`},
		{"nil map", map[string]any(nil), `{}`},
		{"map of every type", map[string]any{
			"raw":    jcs.Raw(`"r"`),
			"number": json.Number("2.50"),
			"int8":   int8(1),
			"uint":   uint(2),
			"floats": []float64{0.5},
		}, `{"floats":[0.5],"int8":1,"number":2.5,"raw":"r","uint":2}`},
		{"slice of any", []any{"x", 1, 2.5, map[string]any{}}, `["x",1,2.5,{}]`},
		{"nil slice of any", []any(nil), `[]`},
		{"strings", []string{"a", "b\tc"}, `["a","b\tc"]`},
		{"nil strings", []string(nil), `[]`},
		{"bools", []bool{true, false}, `[true,false]`},
		{"int64s", []int64{-1, 0, 1<<53 - 1}, `[-1,0,9007199254740991]`},
		{"float64s", []float64{1.5, math.Copysign(0, -1), 1e21}, `[1.5,0,1e+21]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Append([]byte("prefix:"), tc.in)
			if err != nil {
				t.Fatalf("Append(%#v) error = %v, want %q", tc.in, err, tc.want)
			}
			if want := "prefix:" + tc.want; string(got) != want {
				t.Errorf("Append(%#v) = %q, want %q", tc.in, got, want)
			}

			marshaled, err := jcs.Marshal(tc.in)
			if err != nil {
				t.Fatalf("Marshal(%#v) error = %v, want %q", tc.in, err, tc.want)
			}
			if string(marshaled) != tc.want {
				t.Errorf("Marshal(%#v) = %q, want %q", tc.in, marshaled, tc.want)
			}
		})
	}
}

func TestAppendOutOfDomain(t *testing.T) {
	deep := any(map[string]any{})
	for range jcs.MaxDepth {
		deep = []any{deep}
	}

	cases := []struct {
		name string
		in   any
	}{
		{"int above safe range", int(1 << 53)},
		{"int below safe range", int(-(1 << 53))},
		{"int64 max", int64(math.MaxInt64)},
		{"int64 min", int64(math.MinInt64)},
		{"uint above safe range", uint(1 << 53)},
		{"uint64 max", uint64(math.MaxUint64)},
		{"NaN", math.NaN()},
		{"positive infinity", math.Inf(1)},
		{"negative infinity", math.Inf(-1)},
		{"float32 infinity", float32(math.Inf(1))},
		{"json.Number integer above safe range", json.Number("9007199254740992")},
		{"json.Number overflow", json.Number("1e400")},
		{"invalid UTF-8 string", "a\xffb"},
		{"encoded surrogate string", "\xed\xa0\x80"},
		{"invalid UTF-8 member name", map[string]any{"ok": 1, "\xff": 2}},
		{"invalid UTF-8 in strings", []string{"ok", "\xc3"}},
		{"int64 element above safe range", []int64{1, 1 << 53}},
		{"float64 element NaN", []float64{math.NaN()}},
		{"nested value", map[string]any{"a": []any{1, uint64(1 << 60)}}},
		{"too deep", deep},
		{"strings too deep", []any{deepStrings(jcs.MaxDepth)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Append([]byte("prefix:"), tc.in)
			if !errors.Is(err, jcs.ErrOutOfDomain) {
				t.Errorf("Append(%s) = %q, %v, want error wrapping ErrOutOfDomain", tc.name, got, err)
			}
			if string(got) != "prefix:" {
				t.Errorf("Append(%s) returned %q on error, want the original buffer %q", tc.name, got, "prefix:")
			}
		})
	}
}

// deepStrings returns a []string nested inside depth−1 arrays, so that the
// strings are at the given depth.
func deepStrings(depth int) any {
	v := any([]string{"x"})
	for range depth - 1 {
		v = []any{v}
	}
	return v
}

func TestAppendMaxDepth(t *testing.T) {
	v := deepStrings(jcs.MaxDepth)
	got, err := jcs.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(strings at depth %d) error = %v, want nil", jcs.MaxDepth, err)
	}
	want := strings.Repeat("[", jcs.MaxDepth) + `"x"` + strings.Repeat("]", jcs.MaxDepth)
	if string(got) != want {
		t.Errorf("Marshal(strings at depth %d) = %q, want %q", jcs.MaxDepth, got, want)
	}
}

func TestAppendErrorValue(t *testing.T) {
	_, err := jcs.Marshal(uint64(9007199254740993))
	if err == nil || !strings.Contains(err.Error(), "9007199254740993") {
		t.Errorf("Marshal(uint64(9007199254740993)) error = %v, want it to name the value", err)
	}
}

func TestAppendUnsupported(t *testing.T) {
	type point struct{ X int }
	number := 1

	cases := []struct {
		name     string
		in       any
		wantText string
	}{
		{"bytes", []byte("abc"), "[]byte"},
		{"struct", point{X: 1}, "jcs_test.point"},
		{"pointer", &number, "*int"},
		{"string map", map[string]string{"a": "b"}, "map[string]string"},
		{"int slice", []int{1}, "[]int"},
		{"json.RawMessage", json.RawMessage(`1`), "json.RawMessage"},
		{"nested channel", map[string]any{"c": make(chan int)}, "chan int"},
		{"json.Number not a number", json.Number("abc"), `"abc"`},
		{"json.Number with space", json.Number(" 1"), `" 1"`},
		{"json.Number empty", json.Number(""), `""`},
		{"json.Number hex", json.Number("0x10"), `"0x10"`},
		{"empty Raw", jcs.Raw(nil), "Raw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Append([]byte("prefix:"), tc.in)
			if err == nil {
				t.Fatalf("Append(%s) = %q, want an error", tc.name, got)
			}
			if errors.Is(err, jcs.ErrOutOfDomain) {
				t.Errorf("Append(%s) error = %v, want an error not wrapping ErrOutOfDomain", tc.name, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("Append(%s) error = %v, want it to contain %s", tc.name, err, tc.wantText)
			}
			if !strings.HasPrefix(err.Error(), "jcs: ") {
				t.Errorf("Append(%s) error = %v, want the prefix %q", tc.name, err, "jcs: ")
			}
			if string(got) != "prefix:" {
				t.Errorf("Append(%s) returned %q on error, want the original buffer %q", tc.name, got, "prefix:")
			}
		})
	}
}

func TestMarshalErrorReturnsNil(t *testing.T) {
	got, err := jcs.Marshal([]any{1, math.NaN()})
	if err == nil {
		t.Fatalf("Marshal([1 NaN]) = %q, want an error", got)
	}
	if got != nil {
		t.Errorf("Marshal([1 NaN]) = %q on error, want nil", got)
	}
}

// TestParseTypes checks the Go types of the value tree, which callers rely
// on when they read parsed values.
func TestParseTypes(t *testing.T) {
	v, err := jcs.Parse([]byte(`{"int":-0,"float":1.0,"exp":1e2,"s":"x","b":true,"n":null,"a":[],"o":{}}`))
	if err != nil {
		t.Fatalf("Parse error = %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("Parse returned %T, want map[string]any", v)
	}

	if got, ok := m["int"].(int64); !ok || got != 0 {
		t.Errorf(`Parse member "int" = %#v, want int64(0)`, m["int"])
	}
	if got, ok := m["float"].(float64); !ok || got != 1 {
		t.Errorf(`Parse member "float" = %#v, want float64(1)`, m["float"])
	}
	if got, ok := m["exp"].(float64); !ok || got != 100 {
		t.Errorf(`Parse member "exp" = %#v, want float64(100)`, m["exp"])
	}
	if got, ok := m["s"].(string); !ok || got != "x" {
		t.Errorf(`Parse member "s" = %#v, want "x"`, m["s"])
	}
	if got, ok := m["b"].(bool); !ok || !got {
		t.Errorf(`Parse member "b" = %#v, want true`, m["b"])
	}
	if got, ok := m["n"]; !ok || got != nil {
		t.Errorf(`Parse member "n" = %#v, present %v, want nil and present`, got, ok)
	}
	if got, ok := m["a"].([]any); !ok || got == nil || len(got) != 0 {
		t.Errorf(`Parse member "a" = %#v, want an empty non-nil []any`, m["a"])
	}
	if got, ok := m["o"].(map[string]any); !ok || got == nil || len(got) != 0 {
		t.Errorf(`Parse member "o" = %#v, want an empty non-nil map[string]any`, m["o"])
	}
}

func TestParseNegativeZero(t *testing.T) {
	v, err := jcs.Parse([]byte(`-0.0`))
	if err != nil {
		t.Fatalf("Parse(%q) error = %v", "-0.0", err)
	}
	f, ok := v.(float64)
	if !ok || f != 0 || !math.Signbit(f) {
		t.Errorf("Parse(%q) = %#v, want float64 negative zero", "-0.0", v)
	}
}
