package otlp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	bijotel "github.com/bijotel/bijotel-go"
)

// vectorsDir contains spans that an independent implementation of the
// Python BIJOTEL v1 format wrote: spans.otlp.json is one OTLP/JSON
// ExportTraceServiceRequest, and the "input" objects of rows.json are the
// same spans with typed OTLP attribute values.
const vectorsDir = "../testdata/python-v1"

// vectorRow is the part of a rows.json row that describes its span. Rows
// that are not spans have an empty Input.Name.
type vectorRow struct {
	Seq   int `json:"seq"`
	Input struct {
		Name              string           `json:"name"`
		Kind              string           `json:"kind"`
		StatusCode        string           `json:"status_code"`
		StatusDescription *string          `json:"status_description"`
		StartTimeUnixNano string           `json:"start_time_unix_nano"`
		EndTimeUnixNano   string           `json:"end_time_unix_nano"`
		TraceID           string           `json:"trace_id"`
		SpanID            string           `json:"span_id"`
		Attributes        []vectorKeyValue `json:"attributes"`
	} `json:"input"`
}

type vectorKeyValue struct {
	Key   string      `json:"key"`
	Value vectorValue `json:"value"`
}

// vectorValue is an OTLP/JSON AnyValue as rows.json writes it.
type vectorValue struct {
	StringValue *string  `json:"stringValue"`
	IntValue    *string  `json:"intValue"`
	DoubleValue *float64 `json:"doubleValue"`
	BoolValue   *bool    `json:"boolValue"`
	ArrayValue  *struct {
		Values []vectorValue `json:"values"`
	} `json:"arrayValue"`
}

// goValue returns the Go value that Spans must produce for v.
func (v vectorValue) goValue(t *testing.T) any {
	t.Helper()
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		n, err := strconv.ParseInt(*v.IntValue, 10, 64)
		if err != nil {
			t.Fatalf("intValue %q: %v", *v.IntValue, err)
		}
		return n
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.ArrayValue != nil:
		values := make([]any, 0, len(v.ArrayValue.Values))
		for _, elem := range v.ArrayValue.Values {
			values = append(values, elem.goValue(t))
		}
		return values
	default:
		t.Fatalf("value %+v has no type this test knows", v)
		return nil
	}
}

// readVector returns the content of a file in vectorsDir, and skips the
// test when the directory is absent.
func readVector(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeJSONSharedVectors(t *testing.T) {
	request := readVector(t, "spans.otlp.json")
	var file struct {
		Rows []vectorRow `json:"rows"`
	}
	if err := json.Unmarshal(readVector(t, "rows.json"), &file); err != nil {
		t.Fatalf("parse rows.json: %v", err)
	}
	var rows []vectorRow
	for _, row := range file.Rows {
		if row.Input.Name != "" {
			rows = append(rows, row)
		}
	}

	spans, err := DecodeJSON(request)
	if err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if len(spans) != 11 {
		t.Fatalf("DecodeJSON returned %d spans, want 11", len(spans))
	}
	if len(rows) != len(spans) {
		t.Fatalf("rows.json has %d span rows, want %d", len(rows), len(spans))
	}

	for i, span := range spans {
		row := rows[i]
		want := row.Input
		if span.TraceID != want.TraceID {
			t.Errorf("seq %d: TraceID = %q, want %q", row.Seq, span.TraceID, want.TraceID)
		}
		if span.SpanID != want.SpanID {
			t.Errorf("seq %d: SpanID = %q, want %q", row.Seq, span.SpanID, want.SpanID)
		}
		if span.ParentSpanID != "" {
			t.Errorf("seq %d: ParentSpanID = %q, want empty", row.Seq, span.ParentSpanID)
		}
		if span.Name != want.Name {
			t.Errorf("seq %d: Name = %q, want %q", row.Seq, span.Name, want.Name)
		}
		if span.Kind != want.Kind {
			t.Errorf("seq %d: Kind = %q, want %q", row.Seq, span.Kind, want.Kind)
		}
		if got := strconv.FormatUint(span.StartTimeUnixNano, 10); got != want.StartTimeUnixNano {
			t.Errorf("seq %d: StartTimeUnixNano = %s, want %s", row.Seq, got, want.StartTimeUnixNano)
		}
		if got := strconv.FormatUint(span.EndTimeUnixNano, 10); got != want.EndTimeUnixNano {
			t.Errorf("seq %d: EndTimeUnixNano = %s, want %s", row.Seq, got, want.EndTimeUnixNano)
		}
		if span.StatusCode != want.StatusCode {
			t.Errorf("seq %d: StatusCode = %q, want %q", row.Seq, span.StatusCode, want.StatusCode)
		}
		wantDescription := ""
		if want.StatusDescription != nil {
			wantDescription = *want.StatusDescription
		}
		if span.StatusDescription != wantDescription {
			t.Errorf("seq %d: StatusDescription = %q, want %q", row.Seq, span.StatusDescription, wantDescription)
		}

		if len(span.Attributes) != len(want.Attributes) {
			t.Errorf("seq %d: %d attributes, want %d", row.Seq, len(span.Attributes), len(want.Attributes))
			continue
		}
		for j, attr := range span.Attributes {
			wantAttr := want.Attributes[j]
			if attr.Key != wantAttr.Key {
				t.Errorf("seq %d: attribute %d key = %q, want %q", row.Seq, j, attr.Key, wantAttr.Key)
			}
			if wantValue := wantAttr.Value.goValue(t); !reflect.DeepEqual(attr.Value, wantValue) {
				t.Errorf("seq %d: attribute %s = %#v (%T), want %#v (%T)",
					row.Seq, attr.Key, attr.Value, attr.Value, wantValue, wantValue)
			}
		}

		wantResource := []bijotel.Attribute{{Key: "service.name", Value: "vectors-shared"}}
		if !reflect.DeepEqual(span.Resource.Attributes, wantResource) {
			t.Errorf("seq %d: Resource.Attributes = %v, want %v", row.Seq, span.Resource.Attributes, wantResource)
		}
		if span.Scope.Name != "vectors" {
			t.Errorf("seq %d: Scope.Name = %q, want vectors", row.Seq, span.Scope.Name)
		}
	}
}

func TestReadFilePythonVectors(t *testing.T) {
	f, err := os.Open(filepath.Join(vectorsDir, "spans.otlp.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var lines []int
	total := 0
	err = ReadFile(f, func(line int, spans []bijotel.Span) error {
		lines = append(lines, line)
		total += len(spans)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if !reflect.DeepEqual(lines, []int{1}) {
		t.Errorf("ReadFile called fn with lines %v, want [1]", lines)
	}
	if total != 11 {
		t.Errorf("ReadFile returned %d spans, want 11", total)
	}
}
