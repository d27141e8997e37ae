package bijotel

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestEncodeSpanOutsideJCSDomain seals values that RFC 8785 cannot
// represent, which Python BIJOTEL drops with the whole span, in the tagged
// forms that docs/chain-format.md specifies.
func TestEncodeSpanOutsideJCSDomain(t *testing.T) {
	s := &Span{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		Name: "chat m", Kind: "CLIENT", StartTimeUnixNano: 1, EndTimeUnixNano: 2,
		Attributes: []Attribute{
			{Key: "gen_ai.operation.name", Value: "chat"},
			{Key: "big", Value: int64(1) << 60},
			{Key: "big_negative", Value: -(int64(1) << 60)},
			{Key: "big_unsigned", Value: uint64(math.MaxUint64)},
			{Key: "max_safe", Value: int64(1<<53 - 1)},
			{Key: "nan", Value: math.NaN()},
			{Key: "inf", Value: math.Inf(1)},
			{Key: "neg_inf", Value: math.Inf(-1)},
			{Key: "floats", Value: []float64{1.5, math.NaN()}},
			{Key: "not_utf8", Value: "ok\xff"},
			{Key: "bytes", Value: []byte{0, 1, 2}},
			{Key: "bad\xfekey", Value: true},
			{Key: "gen_ai.input.messages", Value: `[{"role":"user","parts":[{"type":"text","content":"x"}],"n":1e400}]`},
			{Key: "gen_ai.output.messages", Value: `[{"n":123456789012345678901234}]`},
		},
	}
	body, err := EncodeSpanV1(s)
	if err != nil {
		t.Fatalf("EncodeSpanV1: %v", err)
	}
	for _, want := range []string{
		`"big":{"bijotel.int":"1152921504606846976"}`,
		`"big_negative":{"bijotel.int":"-1152921504606846976"}`,
		`"big_unsigned":{"bijotel.int":"18446744073709551615"}`,
		`"max_safe":9007199254740991`,
		`"nan":{"bijotel.float":"NaN"}`,
		`"inf":{"bijotel.float":"Infinity"}`,
		`"neg_inf":{"bijotel.float":"-Infinity"}`,
		`"floats":[1.5,{"bijotel.float":"NaN"}]`,
		`"not_utf8":{"bijotel.string_base64":"b2v/"}`,
		`"bytes":{"bijotel.bytes":"AAEC"}`,
		`"bijotel.key_base64:YmFk/mtleQ==":true`,
		// JSON text with a number outside the domain stays a string.
		`"gen_ai.input.messages":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"x\"}],\"n\":1e400}]"`,
		`"gen_ai.output.messages":"[{\"n\":123456789012345678901234}]"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}

	// The whole span, with the extra keys, seals and verifies.
	secret := mustSecret(t, fixtureSecretHex)
	path := filepath.Join(t.TempDir(), "chain.db")
	c, err := Open(path, secret)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec, err := SpanRecord(s)
	if err != nil {
		t.Fatalf("SpanRecord: %v", err)
	}
	if _, err := c.Append(context.Background(), []Record{rec}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if rep := verifyFile(t, path, secret); !rep.Valid || rep.Spans != 1 {
		t.Errorf("Verify = %s, %d span entries; want VALID with 1", rep.Message(), rep.Spans)
	}
}

func TestEncodeSpanRootParentIsNull(t *testing.T) {
	body, err := EncodeSpan(&Span{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body.Canonical), `"parent_span_id":null`) {
		t.Errorf("root span body = %s, want parent_span_id null", body.Canonical)
	}
	if !strings.Contains(string(body.Canonical), `"kind":"INTERNAL"`) || !strings.Contains(string(body.Canonical), `"status_code":"UNSET"`) {
		t.Errorf("body with empty kind and status = %s, want INTERNAL and UNSET", body.Canonical)
	}
}
