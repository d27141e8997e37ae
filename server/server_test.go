package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	bijotel "github.com/bijotel/bijotel-go"
	"github.com/bijotel/bijotel-go/server"
	_ "modernc.org/sqlite"
)

const testSecretHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

type testServer struct {
	srv    *server.Server
	chain  *bijotel.Chain
	path   string
	secret []byte
	cancel context.CancelFunc
	done   chan error
}

func startServer(t testing.TB, mutate func(*server.Config)) *testServer {
	t.Helper()
	secret, _ := bijotel.ParseSecret(testSecretHex)
	path := filepath.Join(t.TempDir(), "chain.db")
	chain, err := bijotel.Open(path, secret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Chain: chain, Secret: secret,
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{srv: srv, chain: chain, path: path, secret: secret, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		ts.stop(t)
		chain.Close()
	})
	return ts
}

func (ts *testServer) stop(t testing.TB) {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	if err := <-ts.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func (ts *testServer) url(listener, path string) string {
	return "http://" + ts.srv.Addr(listener) + path
}

// sealedSpanIDs returns the span_id column of every entry, after verifying
// the chain.
func (ts *testServer) sealedSpanIDs(t *testing.T) map[string]int {
	t.Helper()
	rep, err := bijotel.Verify(context.Background(), ts.chain, ts.secret)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.Valid {
		t.Fatalf("Verify = %s", rep.Message())
	}
	ids := map[string]int{}
	err = ts.chain.Scan(context.Background(), 1, 1<<62, func(e *bijotel.Entry) error {
		ids[e.SpanID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// emitSpans sends n GenAI spans and one plain span through tp and returns
// the GenAI span ids.
func emitSpans(t *testing.T, tp *sdktrace.TracerProvider, prefix string, n int) []string {
	t.Helper()
	tracer := tp.Tracer("server-test")
	var ids []string
	for i := 0; i < n; i++ {
		_, span := tracer.Start(context.Background(), "chat gpt-4o-mini", trace.WithSpanKind(trace.SpanKindClient))
		span.SetAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.provider.name", "openai"),
			attribute.Int("gen_ai.usage.input_tokens", 10),
			attribute.Int("gen_ai.usage.output_tokens", 5),
			attribute.String("test.client", prefix),
		)
		ids = append(ids, span.SpanContext().SpanID().String())
		span.End()
	}
	_, plain := tracer.Start(context.Background(), "GET /health")
	plain.End()
	return ids
}

func TestExportersSealEverySpanOnce(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "server-test"))

	var mu sync.Mutex
	want := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		for _, kind := range []string{"grpc", "http"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var exp sdktrace.SpanExporter
				var err error
				if kind == "grpc" {
					exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(ts.srv.Addr("otlp_grpc")), otlptracegrpc.WithInsecure())
				} else {
					exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(ts.srv.Addr("otlp_http")), otlptracehttp.WithInsecure())
				}
				if err != nil {
					t.Errorf("new %s exporter: %v", kind, err)
					return
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(64)), sdktrace.WithResource(res))
				ids := emitSpans(t, tp, fmt.Sprintf("%s-%d", kind, i), 200)
				if err := tp.Shutdown(ctx); err != nil {
					t.Errorf("%s exporter shutdown: %v", kind, err)
				}
				mu.Lock()
				for _, id := range ids {
					want[id] = true
				}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()

	// A raw OTLP/JSON client.
	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"raw"}}]},"scopeSpans":[{"scope":{"name":"raw"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173","name":"chat claude-haiku-4-5","kind":3,"startTimeUnixNano":"1700000003000000000","endTimeUnixNano":"1700000003400000000","attributes":[{"key":"gen_ai.provider.name","value":{"stringValue":"anthropic"}},{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"claude-haiku-4-5"}}],"status":{}}]}]}]}`
	resp := post(t, ts.url("otlp_http", "/v1/traces"), "application/json", []byte(body), nil)
	if resp.status != http.StatusOK {
		t.Fatalf("raw JSON export = %d %s, want 200", resp.status, resp.body)
	}
	want["eee19b7ec3c1b174"] = true

	got := ts.sealedSpanIDs(t)
	if len(got) != len(want) {
		t.Errorf("chain holds %d distinct spans, want %d", len(got), len(want))
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("span %s sealed %d times, want once", id, got[id])
		}
	}

	e, err := ts.chain.Entry(ctx, int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if e.TraceID != "5b8efff798038103d269b633813fc60c" || e.SpanKind != "CLIENT" {
		t.Errorf("raw JSON span stored as trace_id %s kind %s, want 5b8efff798038103d269b633813fc60c CLIENT", e.TraceID, e.SpanKind)
	}
	if !strings.Contains(string(e.CanonicalBody), `"parent_span_id":"eee19b7ec3c1b173"`) {
		t.Errorf("raw JSON span body lacks the parent id: %s", e.CanonicalBody)
	}
	if !strings.Contains(string(e.CanonicalBody), `"resource":{"attributes":{"service.name":"raw"}`) {
		t.Errorf("raw JSON span body lacks the sender's resource: %s", e.CanonicalBody)
	}
}

type httpResult struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, url, contentType string, body []byte, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

func get(t *testing.T, url string, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) httpResult {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func gzipped(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func TestMalformedInputKeepsServing(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.MaxRequestBytes = 64 << 10 })
	url := ts.url("otlp_http", "/v1/traces")
	good := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat m","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}]}]}]}`
	if r := post(t, url, "application/json", []byte(good), nil); r.status != http.StatusOK {
		t.Fatalf("first export = %d %s", r.status, r.body)
	}

	tests := []struct {
		name        string
		contentType string
		body        []byte
		header      map[string]string
		wantStatus  int
		wantText    string
	}{
		{name: "malformed protobuf", contentType: "application/x-protobuf", body: []byte{0x0a, 0xff, 0xff, 0xff, 0x01, 0x02}, wantStatus: 400, wantText: "invalid"},
		{name: "invalid JSON", contentType: "application/json", body: []byte(`{"resourceSpans":[`), wantStatus: 400, wantText: "invalid"},
		{name: "base64 trace id", contentType: "application/json", body: []byte(strings.Replace(good, `"5b8efff798038103d269b633813fc60c"`, `"W47/95gDgQPSabYzgT/GDA=="`, 1)), wantStatus: 400, wantText: "traceId"},
		{name: "short trace id", contentType: "application/json", body: []byte(strings.Replace(good, `"5b8efff798038103d269b633813fc60c"`, `"5b8efff7"`, 1)), wantStatus: 400, wantText: "traceId"},
		{name: "wrong content type", contentType: "text/plain", body: []byte(good), wantStatus: 415, wantText: "Content-Type"},
		{name: "unknown encoding", contentType: "application/json", body: []byte(good), header: map[string]string{"Content-Encoding": "br"}, wantStatus: 415, wantText: "Content-Encoding"},
		{name: "oversized body", contentType: "application/json", body: bytes.Repeat([]byte(" "), 70<<10), wantStatus: 413, wantText: "larger than"},
		{name: "gzip bomb", contentType: "application/json", body: gzipped(t, bytes.Repeat([]byte(" "), 1<<20)), header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 413, wantText: "larger than"},
		{name: "bad gzip", contentType: "application/json", body: []byte("not gzip"), header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 400, wantText: "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, url, tc.contentType, tc.body, tc.header)
			if r.status != tc.wantStatus {
				t.Errorf("status = %d, want %d; body %q", r.status, tc.wantStatus, r.body)
			}
			if !strings.Contains(r.body, tc.wantText) {
				t.Errorf("body %q does not contain %q", r.body, tc.wantText)
			}
		})
	}

	// A gzip-compressed valid request after all that.
	second := strings.Replace(good, "eee19b7ec3c1b174", "eee19b7ec3c1b175", 1)
	r := post(t, url, "application/json", gzipped(t, []byte(second)), map[string]string{"Content-Encoding": "gzip"})
	if r.status != http.StatusOK {
		t.Fatalf("gzip export = %d %s", r.status, r.body)
	}
	ids := ts.sealedSpanIDs(t)
	if len(ids) != 2 || ids["eee19b7ec3c1b174"] != 1 || ids["eee19b7ec3c1b175"] != 1 {
		t.Errorf("sealed span ids = %v, want the two valid spans once each", ids)
	}
}

func TestPartialSuccessForOversizedAttribute(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.MaxAttributeBytes = 100 })
	big := strings.Repeat("x", 200)
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[` +
		`{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000001","name":"a","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"gen_ai.input.messages","value":{"stringValue":"` + big + `"}}]},` +
		`{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000002","name":"b","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}` +
		`]}]}]}`
	r := post(t, ts.url("otlp_http", "/v1/traces"), "application/json", []byte(body), nil)
	if r.status != http.StatusOK {
		t.Fatalf("export = %d %s", r.status, r.body)
	}
	var resp struct {
		PartialSuccess struct {
			RejectedSpans string `json:"rejectedSpans"`
			ErrorMessage  string `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if err := json.Unmarshal([]byte(r.body), &resp); err != nil {
		t.Fatalf("decode response %q: %v", r.body, err)
	}
	if resp.PartialSuccess.RejectedSpans != "1" || !strings.Contains(resp.PartialSuccess.ErrorMessage, "gen_ai.input.messages") {
		t.Errorf("partial success = %+v, want 1 rejected span naming gen_ai.input.messages", resp.PartialSuccess)
	}
	if ids := ts.sealedSpanIDs(t); len(ids) != 1 || ids["0000000000000002"] != 1 {
		t.Errorf("sealed span ids = %v, want only 0000000000000002", ids)
	}
}

func oneSpanRequest(spanID string) []byte {
	return []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` +
		`{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"` + spanID + `","name":"a","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}` +
		`]}]}]}`)
}

func TestOverloadAnswersRetry(t *testing.T) {
	ts := startServer(t, func(c *server.Config) {
		c.AdmissionTimeout = 100 * time.Millisecond
		c.SealerOptions = []bijotel.SealerOption{bijotel.WithQueueSize(2), bijotel.WithBatchSize(1)}
	})
	url := ts.url("otlp_http", "/v1/traces")

	// Another connection holds the write lock, so the writer stalls on the
	// first request while the second fills the queue.
	lock, err := sql.Open("sqlite", "file:"+ts.path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	tx, err := lock.Begin()
	if err != nil {
		t.Fatalf("take the write lock: %v", err)
	}

	type outcome struct {
		id string
		r  httpResult
	}
	results := make(chan outcome, 2)
	for _, id := range []string{"0000000000000001", "0000000000000002"} {
		go func() { results <- outcome{id, post(t, url, "application/json", oneSpanRequest(id), nil)} }()
		time.Sleep(300 * time.Millisecond)
	}
	r := post(t, url, "application/json", oneSpanRequest("0000000000000003"), nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("export into a full queue = %d (Retry-After %q), want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}

	tx.Rollback()
	// A request with a 200 reply is sealed once, and any other request not at all.
	want := map[string]int{}
	for range 2 {
		o := <-results
		switch o.r.status {
		case http.StatusOK:
			want[o.id] = 1
		case http.StatusServiceUnavailable:
		default:
			t.Errorf("export of %s = %d %s, want 200 or 503", o.id, o.r.status, o.r.body)
		}
	}
	if want["0000000000000001"] != 1 {
		t.Errorf("the request the writer took first was not acknowledged")
	}
	ids := ts.sealedSpanIDs(t)
	if len(ids) != len(want) {
		t.Errorf("sealed span ids = %v, want exactly the acknowledged %v", ids, want)
	}
	for id := range want {
		if ids[id] != 1 {
			t.Errorf("acknowledged span %s sealed %d times, want once", id, ids[id])
		}
	}
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
