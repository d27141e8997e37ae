package otelanthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
	"github.com/bijotel/bijotel-go/jcs"
)

// Instrumentation is the bijotel.instrumentation value that Middleware sets
// on the SDK's spans.
const Instrumentation = "sdk"

// retryAfterKey records the Retry-After header of a failed response, named
// as the HTTP semantic conventions name response headers.
const retryAfterKey = attribute.Key("http.response.header.retry-after")

// Middleware returns the client middleware that completes the SDK's span of
// each Messages API call (POST /v1/messages). It finds that span in the
// request's context and adds attributes to it; other requests, and calls
// whose span does not record, pass through untouched. It runs once per HTTP
// attempt, so after a retry the attributes of the last attempt win. The
// exception is http.response.header.retry-after, which only a failed attempt
// sets, so it stays when a later attempt succeeds.
//
// In a stream it marks the span with bijotel.response.incomplete and a
// reason when the SDK's own record of the output would be wrong:
//
//   - a content_block_delta or content_block_stop for an index that no
//     content_block_start opened. The SDK's accumulator rejects the event
//     and its span then has no gen_ai.output.messages at all.
//   - a tool_use block whose input is not valid JSON when it stops, as when
//     max_tokens cuts the call short. The SDK's span records that call's
//     arguments as {}.
//
// NOTE: a stream that the application closes before message_stop is not
// marked: the SDK ends its span inside Close, before the body this
// middleware wraps is closed. Such a span has no gen_ai.usage.output_tokens
// and keeps bijotel.usage.missing true.
func Middleware() option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		span := trace.SpanFromContext(req.Context())
		if !span.IsRecording() || req.Method != http.MethodPost || !strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/v1/messages") {
			return next(req)
		}
		if req.Body != nil && req.Body != http.NoBody {
			data, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(data))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			span.SetAttributes(requestAttributes(data)...)
		}
		span.SetAttributes(genai.InstrumentationKey.String(Instrumentation), genai.UsageMissingKey.Bool(true))

		resp, err := next(req)
		if err != nil || resp == nil {
			return resp, err
		}
		if resp.StatusCode >= 400 {
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				span.SetAttributes(retryAfterKey.StringSlice([]string{ra}))
			}
			return resp, nil
		}
		if resp.Body == nil || resp.Body == http.NoBody {
			return resp, nil
		}
		mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		resp.Body = &body{rc: resp.Body, span: span, stream: mediaType == "text/event-stream"}
		return resp, nil
	}
}

// messagesRequest is the part of a Messages API request body that
// Middleware records.
type messagesRequest struct {
	Tools []struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
}

// requestAttributes returns the request attributes that the SDK's span
// lacks: gen_ai.tool.definitions. Tool definitions take the flat form of gen_ai.tool.definitions:
// type "function" for a custom tool (the API's type "custom" or none), the
// API's type for a server tool.
func requestAttributes(data []byte) []attribute.KeyValue {
	var r messagesRequest
	if json.Unmarshal(data, &r) != nil {
		return nil
	}
	var attrs []attribute.KeyValue
	if len(r.Tools) > 0 {
		defs := make([]any, 0, len(r.Tools))
		for _, t := range r.Tools {
			def := map[string]any{"type": t.Type, "name": t.Name}
			if t.Type == "" || t.Type == "custom" {
				def["type"] = "function"
			}
			if t.Description != "" {
				def["description"] = t.Description
			}
			if len(t.InputSchema) > 0 {
				if v, err := jcs.Parse(t.InputSchema); err == nil {
					def["parameters"] = v
				}
			}
			defs = append(defs, def)
		}
		if b, err := jcs.Marshal(defs); err == nil {
			attrs = append(attrs, semconv.GenAIToolDefinitionsKey.String(string(b)))
		}
	}
	return attrs
}

// body passes the response body through unchanged and sets attributes on
// the span as the parts of the reply arrive. The attributes are set while
// the SDK reads, before the SDK ends its span.
type body struct {
	rc     io.ReadCloser
	span   trace.Span
	stream bool

	mu       sync.Mutex
	sse      httpbody.SSEParser
	msg      messageState
	buf      bytes.Buffer
	overflow bool
	done     bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.overflow {
		return n, err
	}
	switch {
	case b.stream:
		if b.sse.OnEvent == nil {
			b.sse.OnEvent = b.event
		}
		if !b.sse.Feed(p[:n]) {
			b.overflow = true
		}
		if err == io.EOF {
			b.sse.Flush()
		}
	case b.buf.Len()+n > httpbody.MaxBuffered:
		b.overflow = true
		b.buf = bytes.Buffer{}
	default:
		b.buf.Write(p[:n])
		if err == io.EOF {
			b.message(b.buf.Bytes())
			b.buf = bytes.Buffer{}
		}
	}
	if err != nil {
		b.done = true
	}
	return n, err
}

func (b *body) Close() error {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	return b.rc.Close()
}

// usage is a Messages API usage object. Absent counts are nil.
type usage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// merge applies a later usage object. Each count it carries is the whole
// count so far, so it replaces the earlier one and counts are never added.
func (u *usage) merge(later *usage) {
	if later == nil {
		return
	}
	if later.InputTokens != nil {
		u.InputTokens = later.InputTokens
	}
	if later.OutputTokens != nil {
		u.OutputTokens = later.OutputTokens
	}
	if later.CacheCreationInputTokens != nil {
		u.CacheCreationInputTokens = later.CacheCreationInputTokens
	}
	if later.CacheReadInputTokens != nil {
		u.CacheReadInputTokens = later.CacheReadInputTokens
	}
}

// message sets the attributes of a JSON message body.
func (b *body) message(data []byte) {
	var m struct {
		StopReason string `json:"stop_reason"`
		Usage      *usage `json:"usage"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	var attrs []attribute.KeyValue
	if m.StopReason != "" {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(m.StopReason))
	}
	if m.Usage != nil {
		if c := m.Usage.CacheCreationInputTokens; c != nil {
			attrs = append(attrs, semconv.GenAIUsageCacheCreationInputTokensKey.Int64(*c))
		}
		attrs = append(attrs, genai.UsageMissingKey.Bool(m.Usage.OutputTokens == nil))
	}
	b.span.SetAttributes(attrs...)
}
