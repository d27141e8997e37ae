package otelgemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// Instrumentation is the bijotel.instrumentation value of the spans.
const Instrumentation = "http_client"

// maxErrorBody caps the bytes of an error response body that the
// instrumentation reads for the provider's error status.
const maxErrorBody = 1 << 20

// NewHTTPClient returns a copy of base whose transport records each
// generateContent and streamGenerateContent call as a span, configured by
// opts. A nil base stands for a zero http.Client. Pass the result as the
// HTTPClient of the SDK's ClientConfig (gg is google.golang.org/genai):
//
//	client, err := gg.NewClient(ctx, &gg.ClientConfig{
//		APIKey:     key,
//		HTTPClient: otelgemini.NewHTTPClient(nil),
//	})
//
// For Vertex AI with Google credentials, pass as base a client that
// already authenticates its requests: the SDK sends an API key when one is
// set, but adds no Google credentials to a client it is given.
func NewHTTPClient(base *http.Client, opts ...genai.Option) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.Transport = Transport(c.Transport, opts...)
	return c
}

// Transport wraps base, or http.DefaultTransport when base is nil, so that
// each generateContent and streamGenerateContent request is recorded as a
// span, configured by opts. Other requests pass through unrecorded.
// Invalid opts make every request fail with the configuration error, so
// that a misconfigured audit log is noticed at the first call.
func Transport(base http.RoundTripper, opts ...genai.Option) http.RoundTripper {
	cfg, err := genai.NewConfig(opts...)
	if err != nil {
		return httpbody.FailingTransport(fmt.Errorf("otelgemini: %w", err))
	}
	return NewTransport(cfg, base)
}

// NewTransport returns the transport of Transport with a resolved
// configuration, which several clients may share.
func NewTransport(cfg *genai.Config, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{cfg: cfg, base: base}
}

type transport struct {
	cfg  *genai.Config
	base http.RoundTripper
}

// method returns the Gemini method that req calls, such as
// "generateContent", or "" for a request this package does not record.
func method(req *http.Request) string {
	if req.Method != http.MethodPost {
		return ""
	}
	path := req.URL.Path
	_, m, _ := strings.Cut(path[strings.LastIndexByte(path, '/')+1:], ":")
	switch m {
	case "generateContent", "streamGenerateContent":
		return m
	}
	return ""
}

// modelFromPath returns the model of a Gemini or Vertex AI method path: the
// last segment before the colon, such as "gemini-2.5-flash" in
// /v1beta/models/gemini-2.5-flash:generateContent.
func modelFromPath(path string) string {
	model, _, _ := strings.Cut(path[strings.LastIndexByte(path, '/')+1:], ":")
	return model
}

// ProviderFor returns the gen_ai.provider.name of a request URL:
// "gcp.vertex_ai" for a Vertex AI host or a Vertex AI path with a projects
// or publishers segment, and "gcp.gemini" otherwise, loopback included.
// genai.WithProviderName overrides it.
func ProviderFor(host, path string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if strings.HasSuffix(host, "aiplatform.googleapis.com") ||
		strings.Contains(path, "/projects/") || strings.Contains(path, "/publishers/") {
		return semconv.GenAIProviderNameGCPVertexAI.Value.AsString()
	}
	return semconv.GenAIProviderNameGCPGemini.Value.AsString()
}

// RoundTrip records the call and sends req through the base transport. A
// recorded request is sent as a clone that carries the span's context and
// an identical body. RoundTrip reads the body through GetBody when req has
// it, and otherwise reads and closes req.Body itself.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	m := method(req)
	if m == "" {
		return t.base.RoundTrip(req)
	}

	data, err := httpbody.ReadRequest(req)
	if err != nil {
		return nil, fmt.Errorf("otelgemini: read request body: %w", err)
	}
	stream := m == "streamGenerateContent"
	greq := genai.Request{
		Provider:        ProviderFor(req.URL.Hostname(), req.URL.Path),
		Operation:       genai.OperationGenerateContent,
		Model:           modelFromPath(req.URL.Path),
		Instrumentation: Instrumentation,
		ServerAddress:   req.URL.Hostname(),
		ServerPort:      httpbody.ServerPort(req),
		Stream:          stream,
	}
	typ := parseRequest(data, &greq)
	ctx, call := t.cfg.Start(req.Context(), greq)
	if typ != "" {
		call.Span().SetAttributes(semconv.GenAIOutputTypeKey.String(typ))
	}

	out := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = io.NopCloser(bytes.NewReader(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		call.End(err)
		return resp, err
	}
	call.Span().SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		endWithHTTPError(call, resp)
		return resp, nil
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		call.MarkIncomplete("response has no body")
		call.End(nil)
		return resp, nil
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		// The base transport left the body compressed, because the
		// application asked for an encoding itself.
		call.MarkIncomplete("response body with Content-Encoding " + enc + " was not parsed")
		call.End(nil)
		return resp, nil
	}

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	sse := mediaType == "text/event-stream"
	resp.Body = newBody(ctx, resp.Body, call, &reply{stream: stream}, sse)
	return resp, nil
}

// endWithHTTPError ends the call with the provider's error. It reads the
// start of the body for the error status and gives the application a body
// with the same bytes.
func endWithHTTPError(call *genai.Call, resp *http.Response) {
	httpErr := &genai.HTTPError{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if resp.Body != nil {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		var body struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(head, &body) == nil && body.Error != nil {
			httpErr.Type = errorType(body.Error, resp.StatusCode)
			if httpErr.RetryAfter == "" {
				httpErr.RetryAfter = retryDelay(body.Error)
			}
		}
	}
	if httpErr.RetryAfter != "" {
		call.Span().SetAttributes(httpbody.RetryAfterKey.StringSlice([]string{httpErr.RetryAfter}))
	}
	call.End(httpErr)
}

// retryDelay returns the delay of a RetryInfo error detail in whole
// seconds, rounded up, as a Retry-After header would give it, or "" when the
// error has none.
func retryDelay(e *apiError) string {
	for _, d := range e.Details {
		if !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			continue
		}
		if delay, err := time.ParseDuration(d.RetryDelay); err == nil && delay >= 0 {
			return strconv.FormatInt(int64(math.Ceil(delay.Seconds())), 10)
		}
	}
	return ""
}

type readCloser struct {
	io.Reader
	io.Closer
}
