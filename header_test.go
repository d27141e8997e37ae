package bijotel

import (
	"encoding/json"
	"testing"
)

// referenceHeader decodes the same keys as parseSpanHeader with
// encoding/json, as an independent check of the scanner.
func referenceHeader(body []byte) (spanHeader, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return spanHeader{}, false
	}
	var h spanHeader
	str := func(key string, dst *string) bool {
		raw, ok := m[key]
		return ok && json.Unmarshal(raw, dst) == nil && raw[0] == '"'
	}
	var start, status string
	attrs, hasAttrs := m["attributes"]
	_, hasDescription := m["status_description"]
	ok := str("name", &h.Name) && str("kind", &h.Kind) && str("end_time_ns", &h.EndTimeNS) &&
		str("start_time_ns", &start) && str("status_code", &status) && hasAttrs && attrs[0] == '{' && hasDescription
	return h, ok
}

func TestParseSpanHeader(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantSpan bool
		wantName string
	}{
		{name: "v1 body", body: `{"attributes":{"a":"}"},"end_time_ns":"2","kind":"CLIENT","name":"chat x","start_time_ns":"1","status_code":"UNSET","status_description":null}`, wantSpan: true, wantName: "chat x"},
		{name: "escaped name", body: `{"attributes":{},"end_time_ns":"2","kind":"CLIENT","name":"a\"b\\c\u00e9","start_time_ns":"1","status_code":"OK","status_description":"x"}`, wantSpan: true, wantName: "a\"b\\cé"},
		{name: "nested braces in strings", body: `{"attributes":{"k":["{[","]}"],"m":{"n":"\"}"}},"end_time_ns":"2","kind":"INTERNAL","name":"n","start_time_ns":"1","status_code":"ERROR","status_description":"e"}`, wantSpan: true, wantName: "n"},
		{name: "event body", body: `{"action":"policy.block","name":"x"}`},
		{name: "missing description", body: `{"attributes":{},"end_time_ns":"2","kind":"CLIENT","name":"n","start_time_ns":"1","status_code":"OK"}`},
		{name: "attributes not an object", body: `{"attributes":[],"end_time_ns":"2","kind":"CLIENT","name":"n","start_time_ns":"1","status_code":"OK","status_description":null}`},
		{name: "name not a string", body: `{"attributes":{},"end_time_ns":"2","kind":"CLIENT","name":7,"start_time_ns":"1","status_code":"OK","status_description":null}`},
		{name: "array", body: `[1,2]`},
		{name: "truncated", body: `{"attributes":{"a":`},
		{name: "empty", body: ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := parseSpanHeader([]byte(tc.body))
			if ok != tc.wantSpan {
				t.Fatalf("parseSpanHeader(%s) span = %v, want %v", tc.body, ok, tc.wantSpan)
			}
			if ok && h.Name != tc.wantName {
				t.Errorf("parseSpanHeader(%s) name = %q, want %q", tc.body, h.Name, tc.wantName)
			}
		})
	}
}

func FuzzParseSpanHeader(f *testing.F) {
	f.Add([]byte(`{"attributes":{},"end_time_ns":"2","kind":"CLIENT","name":"n","start_time_ns":"1","status_code":"OK","status_description":null}`))
	f.Add([]byte(`{"a":[{"b":"\\\""}],"name":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parseSpanHeader(body)
		if !json.Valid(body) {
			return
		}
		want, wantOK := referenceHeader(body)
		if ok != wantOK {
			t.Fatalf("parseSpanHeader(%q) span = %v, encoding/json says %v", body, ok, wantOK)
		}
		if ok && (got.Name != want.Name || got.Kind != want.Kind || got.EndTimeNS != want.EndTimeNS) {
			t.Fatalf("parseSpanHeader(%q) = %+v, encoding/json gives %+v", body, got, want)
		}
	})
}
