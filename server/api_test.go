package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/server"
)

const testToken = "test-token-0123456789abcdef"

// sealThree seals two OpenAI spans and one Anthropic span over OTLP/HTTP.
func sealThree(t *testing.T, ts *testServer, header map[string]string) {
	t.Helper()
	body := `{"resourceSpans":[{"scopeSpans":[{"scope":{"name":"otel-test"},"spans":[` +
		`{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000001","name":"chat gpt-4o","kind":3,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000","attributes":[{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},{"key":"bijotel.instrumentation","value":{"stringValue":"middleware"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"10"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"4"}}]},` +
		`{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000002","name":"chat gpt-4o","kind":3,"startTimeUnixNano":"1700000002000000000","endTimeUnixNano":"1700000003000000000","attributes":[{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},{"key":"bijotel.instrumentation","value":{"stringValue":"middleware"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"20"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"6"}}]},` +
		`{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000003","name":"chat claude","kind":3,"startTimeUnixNano":"1700086400000000000","endTimeUnixNano":"1700086401000000000","attributes":[{"key":"gen_ai.provider.name","value":{"stringValue":"anthropic"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"7"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"3"}}]}` +
		`]}]}]}`
	if r := post(t, ts.url("otlp_http", "/v1/traces"), "application/json", []byte(body), header); r.status != http.StatusOK {
		t.Fatalf("export = %d %s", r.status, r.body)
	}
}

func decode[T any](t *testing.T, r httpResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

func TestRESTEndpoints(t *testing.T) {
	ts := startServer(t, nil)
	sealThree(t, ts, nil)
	if _, err := ts.chain.AppendEvent(context.Background(), "audit.event", map[string]any{"action": "approve"}); err != nil {
		t.Fatal(err)
	}
	api := func(path string) string { return ts.url("rest_api", path) }

	if r := get(t, api("/api/health"), nil); r.status != 200 || !strings.Contains(r.body, `"ok"`) {
		t.Errorf("GET /api/health = %d %s", r.status, r.body)
	}
	if r := get(t, api("/api/version"), nil); r.status != 200 || !strings.Contains(r.body, `"chain_format": "v1"`) {
		t.Errorf("GET /api/version = %d %s", r.status, r.body)
	}

	layers := decode[struct {
		Components []struct{ Name, State string }
		Providers  []struct {
			Provider, Instrumentation, Kind  string
			Spans, InputTokens, OutputTokens int64 `json:"-"`
			SpansJSON                        int64 `json:"spans"`
			InputJSON                        int64 `json:"input_tokens"`
			OutputJSON                       int64 `json:"output_tokens"`
			LastSeen                         int64 `json:"last_seen_ns"`
		}
	}](t, get(t, api("/api/layers"), nil))
	states := map[string]string{}
	for _, c := range layers.Components {
		states[c.Name] = c.State
	}
	if states["chain"] != "ok" || states["otlp_grpc"] != "listening" || states["otlp_http"] != "listening" {
		t.Errorf("layers components = %v, want chain ok and both receivers listening", states)
	}
	if len(layers.Providers) != 2 {
		t.Fatalf("layers providers = %+v, want anthropic and openai", layers.Providers)
	}
	a, o := layers.Providers[0], layers.Providers[1]
	if a.Provider != "anthropic" || a.SpansJSON != 1 || a.InputJSON != 7 || a.OutputJSON != 3 || a.Kind != "automatic" || a.Instrumentation != "otel-test" {
		t.Errorf("anthropic layer = %+v", a)
	}
	if o.Provider != "openai" || o.SpansJSON != 2 || o.InputJSON != 30 || o.OutputJSON != 10 || o.Kind != "middleware" || o.LastSeen != 1700000003000000000 {
		t.Errorf("openai layer = %+v", o)
	}

	list := decode[struct {
		Entries []struct {
			Seq      int64           `json:"seq"`
			SpanName string          `json:"span_name"`
			SpanKind *string         `json:"span_kind"`
			HMACHash string          `json:"hmac_hash"`
			Body     json.RawMessage `json:"body"`
		}
	}](t, get(t, api("/api/chain?limit=2"), nil))
	if len(list.Entries) != 2 || list.Entries[0].Seq != 4 || list.Entries[1].Seq != 3 {
		t.Fatalf("GET /api/chain?limit=2 = %+v, want seq 4 then 3", list.Entries)
	}
	if list.Entries[0].SpanKind != nil || list.Entries[0].SpanName != "audit.event" {
		t.Errorf("newest entry = %+v, want the audit.event with a null span_kind", list.Entries[0])
	}
	window := decode[struct{ Entries []struct{ Seq int64 } }](t, get(t, api("/api/chain?since=2023-11-14&until=2023-11-15&offset=1"), nil))
	if len(window.Entries) != 1 || window.Entries[0].Seq != 1 {
		t.Errorf("GET /api/chain with since, until and offset = %+v, want seq 1", window.Entries)
	}
	for _, bad := range []string{"limit=0", "limit=5000", "offset=-1", "since=yesterday"} {
		if r := get(t, api("/api/chain?"+bad), nil); r.status != 400 || !strings.Contains(r.body, "invalid") {
			t.Errorf("GET /api/chain?%s = %d %s, want 400", bad, r.status, r.body)
		}
	}

	entry := decode[struct {
		Seq           int64  `json:"seq"`
		TraceID       string `json:"trace_id"`
		CanonicalBody string `json:"canonical_body"`
		CanonicalHash string `json:"canonical_hash"`
	}](t, get(t, api("/api/chain/2"), nil))
	if entry.Seq != 2 || entry.TraceID != "5b8efff798038103d269b633813fc60c" || bijotel.CanonicalHash([]byte(entry.CanonicalBody)) != entry.CanonicalHash {
		t.Errorf("GET /api/chain/2 = %+v; the served body must hash to canonical_hash", entry)
	}
	if r := get(t, api("/api/chain/99"), nil); r.status != 404 {
		t.Errorf("GET /api/chain/99 = %d, want 404", r.status)
	}
	if r := get(t, api("/api/chain/abc"), nil); r.status != 400 {
		t.Errorf("GET /api/chain/abc = %d, want 400", r.status)
	}

	stats := decode[struct {
		Entries      int64 `json:"entries"`
		SpanEntries  int64 `json:"span_entries"`
		EventEntries int64 `json:"event_entries"`
	}](t, get(t, api("/api/chain/stats"), nil))
	if stats.Entries != 4 || stats.SpanEntries != 3 || stats.EventEntries != 1 {
		t.Errorf("GET /api/chain/stats = %+v, want 4 entries, 3 spans, 1 event", stats)
	}

	v := post(t, api("/api/chain/verify"), "", nil, nil)
	if v.status != 200 || !strings.Contains(v.body, `"message": "Chain VALID (4 entries)."`) {
		t.Errorf("POST /api/chain/verify = %d %s", v.status, v.body)
	}
	v = post(t, api("/api/chain/verify"), "application/json", []byte(`{"from_seq":2,"to_seq":3}`), nil)
	if !strings.Contains(v.body, `"message": "Chain segment VALID: seq 2-3 (2 entries of 4 total)."`) {
		t.Errorf("POST /api/chain/verify with a range = %d %s", v.status, v.body)
	}
	if v = post(t, api("/api/chain/verify"), "application/json", []byte(`{"path":"/etc/passwd"}`), nil); v.status != 400 {
		t.Errorf("POST /api/chain/verify with an unknown field = %d, want 400", v.status)
	}

	metrics := get(t, api("/metrics"), nil)
	for _, want := range []string{"bijotel_spans_received_total 3", "bijotel_spans_sealed_total 3", "bijotel_queue_depth 0", "bijotel_commit_latency_seconds_count 1"} {
		if !strings.Contains(metrics.body, want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, metrics.body)
		}
	}
	for _, secret := range []string{testSecretHex, testSecretHex[10:30]} {
		for _, path := range []string{"/api/layers", "/api/version", "/metrics", "/api/chain/stats"} {
			if strings.Contains(get(t, api(path), nil).body, secret) {
				t.Errorf("GET %s serves part of the HMAC secret", path)
			}
		}
	}
}

func TestVerifyEndpointReportsBrokenChain(t *testing.T) {
	ts := startServer(t, nil)
	sealThree(t, ts, nil)
	db := openRaw(t, ts.path)
	if _, err := db.Exec(`UPDATE chain SET span_name = 'edited' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	v := decode[struct {
		Status    string `json:"status"`
		BrokenSeq int64  `json:"broken_seq"`
		Message   string `json:"message"`
	}](t, post(t, ts.url("rest_api", "/api/chain/verify"), "", nil, nil))
	if v.Status != "BROKEN" || v.BrokenSeq != 2 || !strings.HasPrefix(v.Message, "Chain BROKEN at seq=2: ") {
		t.Errorf("verify of an edited chain = %+v, want BROKEN at seq=2", v)
	}
}

func TestAuthToken(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.APIToken = testToken })
	bearer := map[string]string{"Authorization": "Bearer " + testToken}

	if r := get(t, ts.url("rest_api", "/api/chain/stats"), nil); r.status != http.StatusUnauthorized {
		t.Errorf("GET without a token = %d, want 401", r.status)
	}
	if r := get(t, ts.url("rest_api", "/api/chain/stats"), map[string]string{"Authorization": "Bearer wrong-token-0123456789"}); r.status != http.StatusUnauthorized {
		t.Errorf("GET with a wrong token = %d, want 401", r.status)
	}
	if r := get(t, ts.url("rest_api", "/api/chain/stats"), bearer); r.status != http.StatusOK {
		t.Errorf("GET with the token = %d, want 200", r.status)
	}
	if r := get(t, ts.url("rest_api", "/api/health"), nil); r.status != http.StatusOK {
		t.Errorf("GET /api/health without a token = %d, want 200", r.status)
	}
	if r := post(t, ts.url("otlp_http", "/v1/traces"), "application/json", oneSpanRequest("0000000000000001"), nil); r.status != http.StatusUnauthorized {
		t.Errorf("OTLP export without a token = %d, want 401", r.status)
	}
	sealThree(t, ts, bearer)
	if ids := ts.sealedSpanIDs(t); len(ids) != 3 {
		t.Errorf("sealed %d spans, want the 3 sent with the token", len(ids))
	}
}

func TestCORS(t *testing.T) {
	closed := startServer(t, nil)
	r := get(t, closed.url("rest_api", "/api/health"), map[string]string{"Origin": "https://dash.example"})
	if h := r.header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("Access-Control-Allow-Origin = %q without configured origins, want none", h)
	}
	open := startServer(t, func(c *server.Config) { c.CORSOrigins = []string{"https://dash.example"} })
	r = get(t, open.url("rest_api", "/api/health"), map[string]string{"Origin": "https://dash.example"})
	if h := r.header.Get("Access-Control-Allow-Origin"); h != "https://dash.example" {
		t.Errorf("Access-Control-Allow-Origin = %q, want the configured origin", h)
	}
	r = get(t, open.url("rest_api", "/api/health"), map[string]string{"Origin": "https://other.example"})
	if h := r.header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("Access-Control-Allow-Origin = %q for an unlisted origin, want none", h)
	}
}

func TestRefusesNonLoopbackWithoutToken(t *testing.T) {
	secret, _ := bijotel.ParseSecret(testSecretHex)
	chain, err := bijotel.Open(filepath.Join(t.TempDir(), "chain.db"), secret)
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	for _, addr := range []string{"0.0.0.0:4317", ":4317", "[::]:4317", "192.0.2.1:4317", "example.com:4317"} {
		_, err := server.New(server.Config{Chain: chain, GRPCAddr: addr, HTTPAddr: "-", APIAddr: "-"})
		if err == nil || !strings.Contains(err.Error(), "without an API token") {
			t.Errorf("New with grpc address %s and no token = %v, want a refusal", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		srv, err := server.New(server.Config{Chain: chain, GRPCAddr: addr, HTTPAddr: "-", APIAddr: "-"})
		if err != nil {
			t.Errorf("New with loopback address %s = %v, want it accepted", addr, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		cancel()
		srv.Serve(ctx)
	}
	// With a token, a non-loopback address passes validation; binding it is
	// not tried here, so no traffic leaves loopback.
	srv, err := server.New(server.Config{Chain: chain, GRPCAddr: "0.0.0.0:4317", HTTPAddr: "-", APIAddr: "-", APIToken: testToken})
	if err != nil {
		t.Fatalf("New with a token and a non-loopback address = %v, want it accepted", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Serve(ctx); err != nil {
		t.Errorf("Serve without listeners: %v", err)
	}
}
