package matrix_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	bijotel "github.com/bijotel/bijotel-go"
)

// secret is the HMAC key of every chain the tests write.
var secret = bytes.Repeat([]byte{0x5a}, 32)

// sealer is a fresh chain in a test's temporary directory and a
// TracerProvider whose only span processor seals into it.
type sealer struct {
	path string
	tp   *sdktrace.TracerProvider
}

// newSealer opens a new chain and its TracerProvider. The provider is shut
// down at cleanup if the test has not done so.
func newSealer(t *testing.T) *sealer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	p, err := bijotel.NewProcessor(path, secret)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return &sealer{path: path, tp: tp}
}

// seal shuts the TracerProvider down, which commits every ended span and
// closes the chain, then verifies the chain and returns its span rows in
// seq order. A chain that does not verify fails the test.
func (s *sealer) seal(t *testing.T) []sealedRow {
	t.Helper()
	ctx := context.Background()
	if err := s.tp.Shutdown(ctx); err != nil {
		t.Fatalf("shut down the TracerProvider (flushes spans into the chain): %v", err)
	}

	chain, err := bijotel.OpenReadOnly(s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	rep, err := bijotel.Verify(ctx, chain, secret)
	if err != nil {
		t.Fatalf("verify %s: %v", s.path, err)
	}
	if !rep.Valid {
		t.Errorf("chain verification = BROKEN (%v), want VALID", rep.Err())
	}
	if rep.LossEntries != 0 || rep.LostSpans != 0 {
		t.Errorf("chain has %d loss entries for %d lost spans, want none", rep.LossEntries, rep.LostSpans)
	}

	var rows []sealedRow
	err = chain.Scan(ctx, 1, math.MaxInt64, func(e *bijotel.Entry) error {
		if e.SpanKind == "" {
			// Not a span: a loss entry or another record.
			return nil
		}
		row := sealedRow{seq: e.Seq, spanID: e.SpanID, spanName: e.SpanName, spanKind: e.SpanKind, raw: bytes.Clone(e.CanonicalBody)}
		dec := json.NewDecoder(bytes.NewReader(e.CanonicalBody))
		dec.UseNumber()
		if err := dec.Decode(&row.body); err != nil {
			return fmt.Errorf("seq %d: canonical body is not JSON: %w", e.Seq, err)
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != rep.Spans {
		t.Errorf("scanned %d span rows, Verify checked %d", len(rows), rep.Spans)
	}
	return rows
}

// sealedRow is one span row of a chain with its canonical body decoded.
type sealedRow struct {
	seq      int64
	spanID   string
	spanName string
	spanKind string
	body     sealedBody
	raw      []byte
}

// sealedBody is the part of a canonical span body that the tests read.
// Numbers stay json.Number, so that token counts compare exactly.
type sealedBody struct {
	Name              string         `json:"name"`
	Kind              string         `json:"kind"`
	StatusCode        string         `json:"status_code"`
	StatusDescription *string        `json:"status_description"`
	SpanID            string         `json:"span_id"`
	Attributes        map[string]any `json:"attributes"`
}

// callRow returns the only row whose body has the given
// gen_ai.operation.name and gen_ai.provider.name, and fails the test when
// there is not exactly one such row, or when any span is sealed twice.
func callRow(t *testing.T, rows []sealedRow, operation, provider string) sealedRow {
	t.Helper()
	seen := make(map[string]int64)
	for _, r := range rows {
		if first, dup := seen[r.spanID]; dup {
			t.Errorf("span %s sealed twice, at seq %d and %d", r.spanID, first, r.seq)
		}
		seen[r.spanID] = r.seq
	}

	var matches []sealedRow
	for _, r := range rows {
		if r.body.Attributes["gen_ai.operation.name"] == operation && r.body.Attributes["gen_ai.provider.name"] == provider {
			matches = append(matches, r)
		}
	}
	if len(matches) != 1 || len(rows) != 1 {
		t.Fatalf("sealed rows of operation %q, provider %q = %d of %d span rows, want 1 of 1; rows:\n%s",
			operation, provider, len(matches), len(rows), describeRows(rows))
	}
	return matches[0]
}

// describeRows lists rows by seq, name, operation and provider, for
// failure messages.
func describeRows(rows []sealedRow) string {
	if len(rows) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  seq %d: %q operation=%v provider=%v status=%s\n", r.seq, r.body.Name,
			r.body.Attributes["gen_ai.operation.name"], r.body.Attributes["gen_ai.provider.name"], r.body.StatusCode)
	}
	return b.String()
}

func (b *sealedBody) wantString(t *testing.T, key, want string) {
	t.Helper()
	v, ok := b.Attributes[key]
	if !ok {
		t.Errorf("sealed %s missing, want %q", key, want)
		return
	}
	if got, isString := v.(string); !isString || got != want {
		t.Errorf("sealed %s = %s, want %q", key, show(v), want)
	}
}

func (b *sealedBody) wantInt(t *testing.T, key string, want int64) {
	t.Helper()
	v, ok := b.Attributes[key]
	if !ok {
		t.Errorf("sealed %s missing, want %d", key, want)
		return
	}
	n, isNumber := v.(json.Number)
	if got, err := n.Int64(); !isNumber || err != nil || got != want {
		t.Errorf("sealed %s = %s, want %d", key, show(v), want)
	}
}

func (b *sealedBody) wantBool(t *testing.T, key string, want bool) {
	t.Helper()
	v, ok := b.Attributes[key]
	if !ok {
		t.Errorf("sealed %s missing, want %v", key, want)
		return
	}
	if got, isBool := v.(bool); !isBool || got != want {
		t.Errorf("sealed %s = %s, want %v", key, show(v), want)
	}
}

func (b *sealedBody) wantStrings(t *testing.T, key string, want ...string) {
	t.Helper()
	v, ok := b.Attributes[key]
	if !ok {
		t.Errorf("sealed %s missing, want %q", key, want)
		return
	}
	list, isList := v.([]any)
	got := make([]string, 0, len(list))
	for _, item := range list {
		s, isString := item.(string)
		if !isString {
			isList = false
			break
		}
		got = append(got, s)
	}
	if !isList || !reflect.DeepEqual(got, want) {
		t.Errorf("sealed %s = %s, want %q", key, show(v), want)
	}
}

func (b *sealedBody) wantAbsent(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := b.Attributes[k]; ok {
			t.Errorf("sealed %s = %s, want absent", k, show(v))
		}
	}
}

// messages returns the messages of a messages attribute, which the chain
// seals as parsed JSON. It fails the test when the attribute is missing or
// is not a list of message objects.
func (b *sealedBody) messages(t *testing.T, key string) []map[string]any {
	t.Helper()
	v, ok := b.Attributes[key]
	if !ok {
		t.Fatalf("sealed %s missing, want a list of messages", key)
	}
	list, isList := v.([]any)
	if !isList {
		t.Fatalf("sealed %s = %s, want a JSON list (the chain seals it parsed)", key, show(v))
	}
	out := make([]map[string]any, 0, len(list))
	for i, item := range list {
		m, isObject := item.(map[string]any)
		if !isObject {
			t.Fatalf("sealed %s[%d] = %s, want a message object", key, i, show(item))
		}
		out = append(out, m)
	}
	return out
}

// parts returns the parts of every message of a messages attribute, in
// order.
func (b *sealedBody) parts(t *testing.T, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, m := range b.messages(t, key) {
		list, isList := m["parts"].([]any)
		if !isList {
			t.Fatalf("sealed %s[%d].parts = %s, want a list", key, i, show(m["parts"]))
		}
		for j, item := range list {
			p, isObject := item.(map[string]any)
			if !isObject {
				t.Fatalf("sealed %s[%d].parts[%d] = %s, want a part object", key, i, j, show(item))
			}
			out = append(out, p)
		}
	}
	return out
}

// partsOfType returns the parts of a messages attribute whose type is typ.
func (b *sealedBody) partsOfType(t *testing.T, key, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range b.parts(t, key) {
		if p["type"] == typ {
			out = append(out, p)
		}
	}
	return out
}

// show formats a sealed value as the JSON it was decoded from, for failure
// messages.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// loopbackClient returns an HTTP client that sends requests only to
// loopback addresses, without a proxy, and fails the test on any other
// host, so that no test reaches a real provider or a metadata address.
func loopbackClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: loopbackOnly{t: t, base: tr}}
}

type loopbackOnly struct {
	t    testing.TB
	base http.RoundTripper
}

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(r.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		l.t.Errorf("request to non-loopback host %q", r.URL.Host)
		return nil, fmt.Errorf("request to non-loopback host %q rejected", r.URL.Host)
	}
	return l.base.RoundTrip(r)
}
