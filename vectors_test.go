package bijotel

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bijotel/bijotel-go/jcs"
)

// pythonVectorsDir holds chains and typed span inputs written by an
// independent implementation of the Python BIJOTEL v1 format.
const pythonVectorsDir = "testdata/python-v1"

// pythonSecretHex is the HMAC secret of every chain in pythonVectorsDir.
const pythonSecretHex = "6b9f2c1d4e8a7b3c5d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"

type vectorFile struct {
	SecretHex string      `json:"secret_hex"`
	Rows      []vectorRow `json:"rows"`
}

type vectorRow struct {
	Seq              int64           `json:"seq"`
	TimestampNS      string          `json:"timestamp_ns"`
	TraceID          string          `json:"trace_id"`
	SpanID           string          `json:"span_id"`
	SpanName         string          `json:"span_name"`
	SpanKind         *string         `json:"span_kind"`
	CanonicalBody    string          `json:"canonical_body"`
	CanonicalHash    string          `json:"canonical_hash"`
	PrevHash         string          `json:"prev_hash"`
	HMACHash         string          `json:"hmac_hash"`
	SemanticBodyHash *string         `json:"semantic_body_hash"`
	Input            json.RawMessage `json:"input"`
}

// vectorSpan is a span in the typed-input shape of the vectors.
type vectorSpan struct {
	Name              string          `json:"name"`
	Kind              string          `json:"kind"`
	StatusCode        string          `json:"status_code"`
	StatusDescription *string         `json:"status_description"`
	StartTimeUnixNano string          `json:"start_time_unix_nano"`
	EndTimeUnixNano   string          `json:"end_time_unix_nano"`
	TraceID           string          `json:"trace_id"`
	SpanID            string          `json:"span_id"`
	Attributes        []vectorKeyAttr `json:"attributes"`
	Event             json.RawMessage `json:"event"`
}

type vectorKeyAttr struct {
	Key   string      `json:"key"`
	Value vectorValue `json:"value"`
}

type vectorValue struct {
	StringValue *string  `json:"stringValue"`
	IntValue    *string  `json:"intValue"`
	DoubleValue *float64 `json:"doubleValue"`
	BoolValue   *bool    `json:"boolValue"`
	ArrayValue  *struct {
		Values []vectorValue `json:"values"`
	} `json:"arrayValue"`
}

func (v vectorValue) toGo(t *testing.T) any {
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
		out := make([]any, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			out[i] = e.toGo(t)
		}
		return out
	}
	return nil
}

func (vs *vectorSpan) toSpan(t *testing.T) *Span {
	t.Helper()
	start, err := strconv.ParseUint(vs.StartTimeUnixNano, 10, 64)
	if err != nil {
		t.Fatalf("start_time_unix_nano %q: %v", vs.StartTimeUnixNano, err)
	}
	end, err := strconv.ParseUint(vs.EndTimeUnixNano, 10, 64)
	if err != nil {
		t.Fatalf("end_time_unix_nano %q: %v", vs.EndTimeUnixNano, err)
	}
	s := &Span{
		TraceID: vs.TraceID, SpanID: vs.SpanID, Name: vs.Name, Kind: vs.Kind,
		StartTimeUnixNano: start, EndTimeUnixNano: end, StatusCode: vs.StatusCode,
	}
	if vs.StatusDescription != nil {
		s.StatusDescription = *vs.StatusDescription
	}
	for _, a := range vs.Attributes {
		s.Attributes = append(s.Attributes, Attribute{Key: a.Key, Value: a.Value.toGo(t)})
	}
	return s
}

func loadVectors(t *testing.T) *vectorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pythonVectorsDir, "rows.json"))
	if err != nil {
		t.Fatalf("read Python-format vectors: %v", err)
	}
	var vf vectorFile
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatalf("parse rows.json: %v", err)
	}
	if vf.SecretHex != pythonSecretHex {
		t.Fatalf("rows.json secret_hex = %q, want %q", vf.SecretHex, pythonSecretHex)
	}
	return &vf
}

func TestEncodeSpanV1MatchesPythonVectors(t *testing.T) {
	vf := loadVectors(t)
	spans := 0
	for _, row := range vf.Rows {
		t.Run(strconv.FormatInt(row.Seq, 10)+"_"+row.SpanName, func(t *testing.T) {
			var in vectorSpan
			if err := json.Unmarshal(row.Input, &in); err != nil {
				t.Fatalf("parse input: %v", err)
			}
			if in.Event != nil {
				fields, err := jcs.Parse(in.Event)
				if err != nil {
					t.Fatalf("parse event input: %v", err)
				}
				ts, _ := strconv.ParseInt(row.TimestampNS, 10, 64)
				rec, err := EventRecord(row.SpanName, fields.(map[string]any), time.Unix(0, ts))
				if err != nil {
					t.Fatalf("EventRecord: %v", err)
				}
				if string(rec.Body) != row.CanonicalBody {
					t.Errorf("event body =\n%s\nwant\n%s", rec.Body, row.CanonicalBody)
				}
				if row.SemanticBodyHash != nil {
					t.Errorf("event row has semantic_body_hash %q, want NULL", *row.SemanticBodyHash)
				}
				return
			}
			spans++
			s := in.toSpan(t)
			got, err := EncodeSpanV1(s)
			if err != nil {
				t.Fatalf("EncodeSpanV1: %v", err)
			}
			if string(got) != row.CanonicalBody {
				t.Errorf("EncodeSpanV1 =\n%s\nwant\n%s", got, row.CanonicalBody)
			}
			if h := CanonicalHash(got); h != row.CanonicalHash {
				t.Errorf("CanonicalHash = %s, want %s", h, row.CanonicalHash)
			}
			rec, err := SpanRecord(s)
			if err != nil {
				t.Fatalf("SpanRecord: %v", err)
			}
			if row.SemanticBodyHash == nil {
				t.Fatalf("span row has no semantic_body_hash")
			}
			if rec.SemanticHash != *row.SemanticBodyHash {
				t.Errorf("semantic hash = %s, want %s", rec.SemanticHash, *row.SemanticBodyHash)
			}
			if ts := strconv.FormatInt(rec.TimestampNS, 10); ts != row.TimestampNS {
				t.Errorf("timestamp_ns = %s, want %s", ts, row.TimestampNS)
			}
			if row.SpanKind == nil || rec.SpanKind != *row.SpanKind {
				t.Errorf("span_kind = %q, want %v", rec.SpanKind, row.SpanKind)
			}
		})
	}
	if spans != 11 {
		t.Errorf("vectors have %d span rows, want 11", spans)
	}
}

func TestEncodeSpanNumberFormatting(t *testing.T) {
	s := &Span{
		Name: "chat gpt-4o-mini", Kind: "CLIENT", StatusCode: "UNSET",
		StartTimeUnixNano: 1700000000000000000, EndTimeUnixNano: 1700000000250000000,
		TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331",
		Attributes: []Attribute{
			{Key: "gen_ai.operation.name", Value: "chat"},
			{Key: "gen_ai.request.model", Value: "gpt-4o-mini"},
			{Key: "gen_ai.request.temperature", Value: 0.7},
			{Key: "gen_ai.request.top_p", Value: 0.000001},
			{Key: "gen_ai.request.frequency_penalty", Value: math.Copysign(0, -1)},
			{Key: "gen_ai.input.messages", Value: `[{"role":"tool","parts":[{"type":"tool_call_response","id":"call_test_1","response":{"balance":2.9514790517935283e20,"ratio":333333333.33333328,"eps":5e-324,"limit":1e21,"near":9.999999999999999e20,"max":1.7976931348623157e308,"delta":-0.0,"count":3}}]}]`},
		},
	}
	const want = `{"attributes":{"gen_ai.input.messages":[{"parts":[{"id":"call_test_1","response":{"balance":295147905179352830000,"count":3,"delta":0,"eps":5e-324,"limit":1e+21,"max":1.7976931348623157e+308,"near":999999999999999900000,"ratio":333333333.33333325},"type":"tool_call_response"}],"role":"tool"}],"gen_ai.operation.name":"chat","gen_ai.request.frequency_penalty":0,"gen_ai.request.model":"gpt-4o-mini","gen_ai.request.temperature":0.7,"gen_ai.request.top_p":0.000001},"end_time_ns":"1700000000250000000","kind":"CLIENT","name":"chat gpt-4o-mini","start_time_ns":"1700000000000000000","status_code":"UNSET","status_description":null}`
	got, err := EncodeSpanV1(s)
	if err != nil {
		t.Fatalf("EncodeSpanV1: %v", err)
	}
	if string(got) != want {
		t.Errorf("EncodeSpanV1 =\n%s\nwant\n%s", got, want)
	}
	if h := CanonicalHash(got); h != "55c46125283f2946a1f5c555157b93ac9bc388bf3b32e5775c2e4983e00b7927" {
		t.Errorf("CanonicalHash = %s, want 55c46125…7927", h)
	}
	rec, err := SpanRecord(s)
	if err != nil {
		t.Fatalf("SpanRecord: %v", err)
	}
	if rec.SemanticHash != "c5841739889ddc4c31da80f18c7fa8b2137ec58168410d0aa60f629525f8ea46" {
		t.Errorf("semantic hash = %s, want c5841739…ea46", rec.SemanticHash)
	}
}
