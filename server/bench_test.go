package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// benchBatch builds one export request of n GenAI spans of about 700 bytes
// of attributes each; seed makes the span ids unique per request.
func benchBatch(seed, n int) ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bench")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("bench")
	prompt := `[{"role":"user","parts":[{"type":"text","content":"` + strings.Repeat("Summarise the incident report. ", 12) + `"}]}]`
	for i := 0; i < n; i++ {
		s := ss.Spans().AppendEmpty()
		var tid [16]byte
		var sid [8]byte
		copy(tid[:], fmt.Sprintf("%016x", seed))
		copy(sid[:], fmt.Sprintf("%08x", seed*n+i))
		sid[0] |= 1
		s.SetTraceID(pcommon.TraceID(tid))
		s.SetSpanID(pcommon.SpanID(sid))
		s.SetName("chat gpt-4o-mini")
		s.SetKind(ptrace.SpanKindClient)
		s.SetStartTimestamp(pcommon.Timestamp(1700000000000000000 + i))
		s.SetEndTimestamp(pcommon.Timestamp(1700000000100000000 + i))
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.provider.name", "openai")
		a.PutStr("gen_ai.request.model", "gpt-4o-mini")
		a.PutInt("gen_ai.usage.input_tokens", 120)
		a.PutInt("gen_ai.usage.output_tokens", 48)
		a.PutStr("gen_ai.input.messages", prompt)
	}
	return ptraceotlp.NewExportRequestFromTraces(td)
}

const (
	benchBatchSpans = 512
	benchClients    = 4
)

// runExportBench sends b.N requests of benchBatchSpans spans from
// benchClients goroutines and reports acknowledged-durable spans per second.
func runExportBench(b *testing.B, send func(req ptraceotlp.ExportRequest) error) {
	reqs := make([]ptraceotlp.ExportRequest, b.N)
	for i := range reqs {
		reqs[i] = benchBatch(i+1, benchBatchSpans)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := send(reqs[i]); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*benchBatchSpans)/elapsed.Seconds(), "spans/s")
}

// BenchmarkExportGRPC measures spans acknowledged over OTLP/gRPC, where an
// acknowledgement means committed to chain.db.
//
//	go test -run='^$' -bench=BenchmarkExport -benchtime=200x ./server
func BenchmarkExportGRPC(b *testing.B) {
	ts := startServer(b, nil)
	conn, err := grpc.NewClient(ts.srv.Addr("otlp_grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)
	runExportBench(b, func(req ptraceotlp.ExportRequest) error {
		_, err := client.Export(context.Background(), req)
		return err
	})
}

// BenchmarkExportHTTP measures spans acknowledged over OTLP/HTTP protobuf.
func BenchmarkExportHTTP(b *testing.B) {
	ts := startServer(b, nil)
	url := ts.url("otlp_http", "/v1/traces")
	runExportBench(b, func(req ptraceotlp.ExportRequest) error {
		body, err := req.MarshalProto()
		if err != nil {
			return err
		}
		resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("export = %d", resp.StatusCode)
		}
		return nil
	})
}
