package jcs_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bijotel/bijotel-go/jcs"
)

type transformCase struct {
	name string
	in   string
	want string
}

func runTransformCases(t *testing.T, cases []transformCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Transform([]byte(tc.in))
			if err != nil {
				t.Fatalf("Transform(%q) error = %v, want %q", tc.in, err, tc.want)
			}
			if string(got) != tc.want {
				t.Errorf("Transform(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTransformNumbers(t *testing.T) {
	runTransformCases(t, []transformCase{
		{"smallest fixed", `0.000001`, `0.000001`},
		{"largest exponential below one", `1E-7`, `1e-7`},
		{"exponential below 1e-6", `5e-7`, `5e-7`},
		{"fixed with many digits", `0.0000033333333333333333`, `0.0000033333333333333333`},
		{"integer with trailing zeros", `2.9514790517935283e20`, `295147905179352830000`},
		{"largest fixed", `9.999999999999999e20`, `999999999999999900000`},
		{"smallest exponential", `1e21`, `1e+21`},
		{"exponential with fraction", `9.999999999999997e22`, `9.999999999999997e+22`},
		{"negative zero float", `-0.0`, `0`},
		{"negative zero integer", `-0`, `0`},
		{"smallest subnormal", `5e-324`, `5e-324`},
		{"largest double", `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{"shortest round trip", `333333333.33333328`, `333333333.33333325`},
		{"integral float", `1.0`, `1`},
		{"integral float exponent", `1E2`, `100`},
		{"largest safe integer", `9007199254740991`, `9007199254740991`},
		{"smallest safe integer", `-9007199254740991`, `-9007199254740991`},
		{"float above 2^53", `9007199254740993.0`, `9007199254740992`},
		{"underflow to zero", `1e-400`, `0`},
		{"negative underflow to zero", `-1e-400`, `0`},
		{"zero exponent overflow", `0e99999999999`, `0`},
		{"fraction", `0.1`, `0.1`},
		{"negative fraction", `-123.456e-10`, `-1.23456e-8`},
		{"fraction point inside digits", `1234.5678`, `1234.5678`},
		{"ten to the twenty", `1e20`, `100000000000000000000`},
	})
}

func TestTransformStrings(t *testing.T) {
	runTransformCases(t, []transformCase{
		{"short escapes", `"\b\t\n\f\r"`, `"\b\t\n\f\r"`},
		{"other controls", `"\u0000\u0001\u001F"`, `"\u0000\u0001\u001f"`},
		{"quote and backslash", `"\"\\"`, `"\"\\"`},
		{"solidus", `"\/"`, `"/"`},
		{"no html escaping", `"\u003c\u003e\u0026<>&"`, `"<>&<>&"`},
		{"delete", `"\u007f"`, "\"\x7f\""},
		{"line and paragraph separators", `"\u2028\u2029"`, "\"\u2028\u2029\""},
		{"uppercase hex escape", `"\u00E9"`, `"é"`},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"raw non-ASCII", `"é€😀"`, `"é€😀"`},
		{"replacement character", `"\ufffd�"`, `"��"`},
		{"escape after non-ASCII", `"é\n"`, `"é\n"`},
		{"empty", `""`, `""`},
	})
}

func TestTransformStructure(t *testing.T) {
	runTransformCases(t, []transformCase{
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"whitespace", " \t\n\r[ 1 ,\t2 ]\r\n ", `[1,2]`},
		{"empty array", `[ ]`, `[]`},
		{"empty object", `{ }`, `{}`},
		{"sorted members", `{"b":1,"a":2,"c":{"z":[],"y":{}}}`, `{"a":2,"b":1,"c":{"y":{},"z":[]}}`},
		{"duplicate member keeps last", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{"escaped duplicate member", `{"a":1,"\u0061":2}`, `{"a":2}`},
		{"empty member name", `{"":1,"a":2}`, `{"":1,"a":2}`},
		{"prefix name first", `{"ab":1,"a":2}`, `{"a":2,"ab":1}`},
		{"emoji before halfwidth", `{"｡":1,"😀":2}`, `{"😀":2,"｡":1}`},
		{"bare string", `"x"`, `"x"`},
		{"bare number", ` 7 `, `7`},
	})
}

// TestTransformRFCExamples checks the examples of RFC 8785 sections 3.2.2
// and 3.2.3.
func TestTransformRFCExamples(t *testing.T) {
	runTransformCases(t, []transformCase{
		{
			"sample object",
			`{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			"sorting",
			`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\"," +
				"\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\"," +
				"\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
	})
}

func TestTransformSpanNumbers(t *testing.T) {
	runTransformCases(t, []transformCase{{
		"span attributes",
		`{"balance":2.9514790517935283e20,"ratio":333333333.33333328,"eps":5e-324,"limit":1e21,"near":9.999999999999999e20,"max":1.7976931348623157e308,"delta":-0.0,"count":3}`,
		`{"balance":295147905179352830000,"count":3,"delta":0,"eps":5e-324,"limit":1e+21,"max":1.7976931348623157e+308,"near":999999999999999900000,"ratio":333333333.33333325}`,
	}})
}

// TestMarshalAppendixB checks the IEEE 754 table of RFC 8785 appendix B.
func TestMarshalAppendixB(t *testing.T) {
	cases := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tc := range cases {
		f := math.Float64frombits(tc.bits)
		got, err := jcs.Marshal(f)
		if err != nil {
			t.Errorf("Marshal(%016x) error = %v, want %q", tc.bits, err, tc.want)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Marshal(%016x) = %q, want %q", tc.bits, got, tc.want)
		}

		// The canonical text must also be a fixed point of Transform,
		// except for integral values beyond 2^53−1, which are written as
		// integer literals that Parse rejects.
		again, err := jcs.Transform(got)
		if isLargeIntegral(f) {
			if !errors.Is(err, jcs.ErrOutOfDomain) {
				t.Errorf("Transform(%q) = %q, %v, want error wrapping ErrOutOfDomain", got, again, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Transform(%q) error = %v, want %q", got, err, tc.want)
			continue
		}
		if string(again) != tc.want {
			t.Errorf("Transform(%q) = %q, want %q", got, again, tc.want)
		}
	}

	// The table's NaN and Infinity rows have no JSON form.
	for _, bits := range []uint64{0x7fffffffffffffff, 0x7ff0000000000000} {
		f := math.Float64frombits(bits)
		if _, err := jcs.Marshal(f); !errors.Is(err, jcs.ErrOutOfDomain) {
			t.Errorf("Marshal(%016x) error = %v, want wrapping ErrOutOfDomain", bits, err)
		}
	}
}

// isLargeIntegral reports whether Marshal writes f as an integer literal
// beyond ±(2^53−1).
func isLargeIntegral(f float64) bool {
	return f == math.Trunc(f) && math.Abs(f) > 1<<53-1 && math.Abs(f) < 1e21
}

// TestTransformLargeIntegralFloat checks that a float literal whose value is
// an integer beyond 2^53−1 canonicalizes to an integer literal, which is
// itself out of domain, as it is for Python's json.loads and rfc8785.
func TestTransformLargeIntegralFloat(t *testing.T) {
	const in, want = `1e20`, `100000000000000000000`
	got, err := jcs.Transform([]byte(in))
	if err != nil {
		t.Fatalf("Transform(%q) error = %v, want %q", in, err, want)
	}
	if string(got) != want {
		t.Errorf("Transform(%q) = %q, want %q", in, got, want)
	}

	again, err := jcs.Transform(got)
	if !errors.Is(err, jcs.ErrOutOfDomain) {
		t.Errorf("Transform(%q) = %q, %v, want error wrapping ErrOutOfDomain", got, again, err)
	}
}

func TestTransformOutOfDomain(t *testing.T) {
	cases := []struct {
		name string
		in   string
	}{
		{"integer above safe range", `9007199254740992`},
		{"integer below safe range", `-9007199254740992`},
		{"long integer", `123456789012345678901234567890`},
		{"integer in array", `[1,9007199254740992]`},
		{"float overflow", `1e400`},
		{"negative float overflow", `-1e400`},
		{"float overflow by digits", `1` + strings.Repeat("0", 400) + `.0`},
		{"lone high surrogate", `"\ud800"`},
		{"lone low surrogate", `"\udc00"`},
		{"high surrogate before letter", `"\ud800A"`},
		{"high surrogate before escape", `"\ud800\u0041"`},
		{"two high surrogates", `"\ud83d\ud83d"`},
		{"reversed pair", `"\ude00\ud83d"`},
		{"invalid byte", "\"\xff\""},
		{"invalid byte after escape", "\"\\n\xff\""},
		{"truncated sequence", "\"\xe2\x82\""},
		{"overlong encoding", "\"\xc0\xaf\""},
		{"encoded surrogate", "\"\xed\xa0\x80\""},
		{"invalid member name", "{\"\xff\":1}"},
		{"arrays too deep", strings.Repeat("[", jcs.MaxDepth+1) + strings.Repeat("]", jcs.MaxDepth+1)},
		{"objects too deep", strings.Repeat(`{"a":`, jcs.MaxDepth+1) + "1" + strings.Repeat("}", jcs.MaxDepth+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Transform([]byte(tc.in))
			if !errors.Is(err, jcs.ErrOutOfDomain) {
				t.Errorf("Transform(%q) = %q, %v, want error wrapping ErrOutOfDomain", tc.in, got, err)
			}
		})
	}
}

func TestTransformMaxDepth(t *testing.T) {
	arrays := strings.Repeat("[", jcs.MaxDepth) + strings.Repeat("]", jcs.MaxDepth)
	got, err := jcs.Transform([]byte(arrays))
	if err != nil {
		t.Fatalf("Transform(%d nested arrays) error = %v, want nil", jcs.MaxDepth, err)
	}
	if string(got) != arrays {
		t.Errorf("Transform(%d nested arrays) = %q, want the input unchanged", jcs.MaxDepth, got)
	}
}

func TestTransformSyntaxErrors(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		offset string
	}{
		{"empty", ``, "offset 0"},
		{"only whitespace", "  \n", "offset 3"},
		{"NaN", `NaN`, "offset 0"},
		{"Infinity", `Infinity`, "offset 0"},
		{"negative Infinity", `-Infinity`, "offset 1"},
		{"trailing comma in array", `[1,]`, "offset 3"},
		{"trailing comma in object", `{"a":1,}`, "offset 7"},
		{"leading zero", `01`, "offset 1"},
		{"point without fraction", `1.`, "offset 2"},
		{"point without integer", `.5`, "offset 0"},
		{"minus alone", `-`, "offset 1"},
		{"exponent without digits", `1e`, "offset 2"},
		{"exponent sign without digits", `1e+`, "offset 3"},
		{"plus sign", `+1`, "offset 0"},
		{"comment", `/* c */ 1`, "offset 0"},
		{"line comment after value", "1 // c", "offset 2"},
		{"trailing data", `1 2`, "offset 2"},
		{"two objects", `{}{}`, "offset 2"},
		{"unterminated string", `"abc`, "offset 4"},
		{"raw control character", "\"a\x01\"", "offset 2"},
		{"raw newline", "\"a\nb\"", "offset 2"},
		{"raw control after escape", "\"\\n\x1f\"", "offset 3"},
		{"invalid escape", `"\x"`, "offset 1"},
		{"short unicode escape", `"\u12"`, "offset 1"},
		{"invalid hex", `"\u00zz"`, "offset 1"},
		{"invalid hex in low surrogate", `"\ud83d\uzzzz"`, "offset 7"},
		{"missing colon", `{"a" 1}`, "offset 5"},
		{"number as member name", `{1:2}`, "offset 1"},
		{"missing comma", `[1 2]`, "offset 3"},
		{"unterminated array", `[1`, "offset 2"},
		{"unterminated object", `{"a":1`, "offset 6"},
		{"byte order mark", "\xef\xbb\xbf1", "offset 0"},
		{"truncated literal", `tru`, "offset 0"},
		{"misspelled literal", `nul1`, "offset 0"},
		{"capitalized literal", `True`, "offset 0"},
		{"single quotes", `'a'`, "offset 0"},
		{"hex number", `0x10`, "offset 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Transform([]byte(tc.in))
			if err == nil {
				t.Fatalf("Transform(%q) = %q, want a syntax error", tc.in, got)
			}
			if errors.Is(err, jcs.ErrOutOfDomain) {
				t.Errorf("Transform(%q) error = %v, want a syntax error not wrapping ErrOutOfDomain", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.offset) {
				t.Errorf("Transform(%q) error = %v, want it to name %s", tc.in, err, tc.offset)
			}
		})
	}
}
