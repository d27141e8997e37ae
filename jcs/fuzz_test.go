package jcs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/bijotel/bijotel-go/jcs"
)

func FuzzTransform(f *testing.F) {
	seeds := []string{
		`{"b":[1,2.5,-0.0,1e21,1E-7],"a":{"\u20ac":"x","😀":null,"｡":true}}`,
		`"\ud83d\ude00\u0000\u001f\"\\\/<>&\u2028"`,
		`[9007199254740991,-9007199254740991,5e-324,1.7976931348623157e308]`,
		`{"a":1,"a":2}`,
		`333333333.33333328`,
		`"\ud800"`,
		`9007199254740992`,
		`1e400`,
		`[1,]`,
		" \t\n\r[ ] ",
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := jcs.Transform(in)
		if err != nil {
			// Text that encoding/json rejects may fail either way, but
			// valid JSON may fail only for being out of domain.
			if json.Valid(in) && !errors.Is(err, jcs.ErrOutOfDomain) {
				t.Fatalf("Transform(%q) error = %v, want nil or ErrOutOfDomain for valid JSON", in, err)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("Transform(%q) = %q, want an error because encoding/json rejects the input", in, out)
		}

		again, err := jcs.Transform(out)
		if errors.Is(err, jcs.ErrOutOfDomain) && hasLargeIntegral(in) {
			// A float with an integral value beyond 2^53−1 is written as
			// an integer literal, which Parse rejects.
			return
		}
		if err != nil {
			t.Fatalf("Transform(%q) error = %v, want %q", out, err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("Transform(%q) = %q, want %q", out, again, out)
		}

		var inValue, outValue any
		if err := json.Unmarshal(in, &inValue); err != nil {
			t.Fatalf("json.Unmarshal(%q) error = %v", in, err)
		}
		if err := json.Unmarshal(out, &outValue); err != nil {
			t.Fatalf("json.Unmarshal(%q) error = %v", out, err)
		}
		if !reflect.DeepEqual(inValue, outValue) {
			t.Fatalf("json.Unmarshal(Transform(%q)) = %#v, want %#v", in, outValue, inValue)
		}
	})
}

// hasLargeIntegral reports whether the JSON text data contains a number
// that Marshal writes as an integer literal beyond ±(2^53−1).
func hasLargeIntegral(data []byte) bool {
	v, err := jcs.Parse(data)
	if err != nil {
		return false
	}
	return containsLargeIntegral(v)
}

func containsLargeIntegral(v any) bool {
	switch v := v.(type) {
	case float64:
		return isLargeIntegral(v)
	case []any:
		for _, element := range v {
			if containsLargeIntegral(element) {
				return true
			}
		}
	case map[string]any:
		for _, value := range v {
			if containsLargeIntegral(value) {
				return true
			}
		}
	}
	return false
}
