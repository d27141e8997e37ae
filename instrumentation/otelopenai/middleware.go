package otelopenai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/internal/httpbody"
)

// Instrumentation is the bijotel.instrumentation value of the spans.
const Instrumentation = "middleware"

// maxErrorBody caps the bytes of an error response body that the
// instrumentation reads for the provider's error type.
const maxErrorBody = 1 << 20

// retryCountHeader carries the SDK's attempt number, 0 for the first.
const retryCountHeader = "X-Stainless-Retry-Count"

// retryAfterKey records the Retry-After header of a failed response, named
// as the HTTP semantic conventions name response headers.
const retryAfterKey = attribute.Key("http.response.header.retry-after")

// Middleware returns the openai-go middleware that records each Chat
// Completions and Responses API request as a span, configured by opts.
// Other requests pass through unrecorded. Invalid opts make every request
// fail with the configuration error, so that a misconfigured audit log is
// noticed at the first call.
//
//	client := openai.NewClient(option.WithMiddleware(otelopenai.Middleware()))
func Middleware(opts ...genai.Option) option.Middleware {
	cfg, err := genai.NewConfig(opts...)
	if err != nil {
		return func(*http.Request, option.MiddlewareNext) (*http.Response, error) {
			return nil, fmt.Errorf("otelopenai: %w", err)
		}
	}
	return NewMiddleware(cfg)
}

// NewMiddleware returns the middleware of Middleware with a resolved
// configuration, which several clients may share.
func NewMiddleware(cfg *genai.Config) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		return record(cfg, req, next)
	}
}

// api is the endpoint a request calls.
type api int

const (
	apiOther api = iota
	apiChat
	apiResponses
)

// endpoint returns the API that req calls. The path may have any prefix,
// such as /v1 or Groq's /openai/v1.
func endpoint(req *http.Request) api {
	if req.Method != http.MethodPost {
		return apiOther
	}
	path := strings.TrimSuffix(req.URL.Path, "/")
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return apiChat
	case strings.HasSuffix(path, "/responses"):
		return apiResponses
	}
	return apiOther
}

func record(cfg *genai.Config, req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	kind := endpoint(req)
	if kind == apiOther {
		return next(req)
	}

	// Read the request body, and give the next handler an identical one.
	var data []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		data, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("otelopenai: read request body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}

	greq := genai.Request{
		Provider:        ProviderForHost(req.URL.Hostname()),
		Operation:       genai.OperationChat,
		Instrumentation: Instrumentation,
		ServerAddress:   req.URL.Hostname(),
		ServerPort:      httpbody.ServerPort(req),
	}
	if kind == apiChat {
		parseChatRequest(data, &greq)
	} else {
		parseResponsesRequest(data, &greq)
	}
	ctx, call := cfg.Start(req.Context(), greq)
	if n, err := strconv.Atoi(req.Header.Get(retryCountHeader)); err == nil && n > 0 {
		call.Span().SetAttributes(semconv.HTTPRequestResendCount(n))
	}

	resp, err := next(req.WithContext(ctx))
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

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	stream := mediaType == "text/event-stream"
	var acc accumulator
	switch {
	case kind == apiChat && stream:
		acc = &chatStream{}
	case kind == apiChat:
		acc = &chatJSON{}
	case stream:
		acc = &responsesStream{}
	default:
		acc = &responsesJSON{}
	}
	resp.Body = newBody(req.Context(), resp.Body, call, acc, stream)
	return resp, nil
}

// endWithHTTPError ends the call with the provider's error. It reads the
// start of the body for the error type and gives the application a body
// with the same bytes.
func endWithHTTPError(call *genai.Call, resp *http.Response) {
	httpErr := &genai.HTTPError{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if resp.Body != nil {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		var body struct {
			Error *struct {
				Type string          `json:"type"`
				Code json.RawMessage `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(head, &body) == nil && body.Error != nil {
			httpErr.Type = errorTypeOf(body.Error.Type, body.Error.Code)
		}
	}
	if httpErr.RetryAfter != "" {
		call.Span().SetAttributes(retryAfterKey.StringSlice([]string{httpErr.RetryAfter}))
	}
	call.End(httpErr)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// errorTypeOf picks the error.type of a provider error: its type, else its
// code when that is a string or a number, else "".
func errorTypeOf(typ string, code json.RawMessage) string {
	if typ != "" {
		return typ
	}
	var s string
	if json.Unmarshal(code, &s) == nil && s != "" {
		return s
	}
	var n json.Number
	if json.Unmarshal(code, &n) == nil && n != "" {
		return n.String()
	}
	return ""
}

// providerNames maps the API hosts of OpenAI-compatible providers to their
// gen_ai.provider.name.
var providerNames = map[string]string{
	"api.openai.com":   "openai",
	"api.x.ai":         "x_ai",
	"api.together.xyz": "together",
	"api.deepseek.com": "deepseek",
	"api.mistral.ai":   "mistral_ai",
	"api.groq.com":     "groq",
}

// ProviderForHost returns the gen_ai.provider.name for an API host name:
// the provider of a known OpenAI-compatible API, "azure.ai.openai" for an
// Azure OpenAI resource, and "openai" for any other host, loopback
// included. genai.WithProviderName overrides it.
func ProviderForHost(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if name, ok := providerNames[host]; ok {
		return name
	}
	if strings.HasSuffix(host, ".openai.azure.com") {
		return "azure.ai.openai"
	}
	return "openai"
}
