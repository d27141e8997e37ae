package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Values of the Gemini fake's normal replies, for tests to compare against.
const (
	// GeminiReplyText is the text of a reply without a function call.
	GeminiReplyText = "Paris is the capital of France."
	// GeminiThoughtText is the thought part that precedes the reply when the
	// request sets generationConfig.thinkingConfig.includeThoughts.
	GeminiThoughtText = "The user asks about a capital city."
	// GeminiToolArguments is the args object of the functionCall part of a
	// reply to a request that declares functions, as JSON text.
	GeminiToolArguments = `{"location":"Paris","unit":"celsius"}`
	// GeminiInputTokens is usageMetadata.promptTokenCount of a normal reply.
	// It includes GeminiCachedInputTokens when the request names a
	// cachedContent, as Gemini counts them.
	GeminiInputTokens = 11
	// GeminiCachedInputTokens is usageMetadata.cachedContentTokenCount of a
	// reply to a request that names a cachedContent.
	GeminiCachedInputTokens = 4
	// GeminiOutputTokens is usageMetadata.candidatesTokenCount of a normal
	// reply. It excludes GeminiThoughtsTokens, as Gemini counts them.
	GeminiOutputTokens = 7
	// GeminiThoughtsTokens is usageMetadata.thoughtsTokenCount of a reply to
	// a request with a thinkingConfig.
	GeminiThoughtsTokens = 5
	// GeminiRetryAfter is the Retry-After header of a rate-limited reply, in
	// seconds. The error body carries the same delay as a RetryInfo detail.
	GeminiRetryAfter = "1"
)

// Recorded Gemini streams, selected with HeaderScenario. Each replays its
// transcript byte for byte whatever the request's model, and replies to
// generateContent with the equivalent JSON response.
const (
	// ScenarioGeminiCumulativeUsage streams resp-test-0001 from
	// gemini-2.5-flash in three chunks, "Paris is", " the capital" and " of
	// France.", the last with finishReason STOP. Every chunk repeats the
	// cumulative usageMetadata: prompt 120 each time, candidates 4, 19 and
	// 37, total 124, 139 and 157. The right totals are input 120 and output
	// 37; adding the chunks up would give 360 and 60.
	ScenarioGeminiCumulativeUsage = "gemini-cumulative-usage"
	// ScenarioGeminiNoUsage is ScenarioGeminiCumulativeUsage without any
	// usageMetadata, as some Gemini-compatible gateways send it.
	ScenarioGeminiNoUsage = "gemini-no-usage"
	// ScenarioGeminiStreamError streams the first chunk of
	// ScenarioGeminiCumulativeUsage, then an in-band error object with code
	// 500 and status INTERNAL, and ends the body. It is only streamed.
	ScenarioGeminiStreamError = "gemini-stream-error"
)

const geminiCumulativeUsageTranscript = `
data: {"candidates":[{"content":{"parts":[{"text":"Paris is"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":4,"totalTokenCount":124},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}

data: {"candidates":[{"content":{"parts":[{"text":" the capital"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":19,"totalTokenCount":139},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}

data: {"candidates":[{"content":{"parts":[{"text":" of France."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":37,"totalTokenCount":157},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}
`

const geminiNoUsageTranscript = `
data: {"candidates":[{"content":{"parts":[{"text":"Paris is"}],"role":"model"},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0002"}

data: {"candidates":[{"content":{"parts":[{"text":" the capital"}],"role":"model"},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0002"}

data: {"candidates":[{"content":{"parts":[{"text":" of France."}],"role":"model"},"finishReason":"STOP","index":0}],"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0002"}
`

const geminiStreamErrorTranscript = `
data: {"candidates":[{"content":{"parts":[{"text":"Paris is"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":4,"totalTokenCount":124},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0003"}

data: {"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}
`

type geminiScenario struct {
	transcript string
	// response is the equivalent generateContent body, or "" when the
	// scenario is only streamed.
	response string
}

var geminiScenarios = map[string]geminiScenario{
	ScenarioGeminiCumulativeUsage: {
		transcript: geminiCumulativeUsageTranscript,
		response:   `{"candidates":[{"content":{"parts":[{"text":"Paris is the capital of France."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":37,"totalTokenCount":157},"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0001"}`,
	},
	ScenarioGeminiNoUsage: {
		transcript: geminiNoUsageTranscript,
		response:   `{"candidates":[{"content":{"parts":[{"text":"Paris is the capital of France."}],"role":"model"},"finishReason":"STOP","index":0}],"modelVersion":"gemini-2.5-flash","responseId":"resp-test-0002"}`,
	},
	ScenarioGeminiStreamError: {transcript: geminiStreamErrorTranscript},
}

// NewGemini starts a fake Gemini API on loopback. It serves POST
// .../models/{model}:generateContent and :streamGenerateContent under any
// prefix, so both the Gemini Developer API paths (/v1beta/models/...) and
// the Vertex AI paths (/v1beta1/projects/{p}/locations/{l}/publishers/
// google/models/...) work with URL as the client's base URL.
//
// generateContent gets a JSON response. streamGenerateContent gets
// server-sent events when the query has alt=sse, as the Go SDK requests, and
// otherwise a JSON array of the same chunks, as the REST API sends it.
// Every streamed chunk carries the cumulative usageMetadata so far, as
// Gemini sends it. When the request declares functions, its last content is
// not a functionResponse and the function calling mode is not NONE, the
// reply calls the first function with GeminiToolArguments. ModelRateLimited
// gets HTTP 429 RESOURCE_EXHAUSTED with Retry-After and ModelServerError
// HTTP 500 INTERNAL, each with a Google error body. Streams honour
// HeaderHoldAfter, and HeaderScenario selects a ScenarioGemini* transcript.
func NewGemini() (*Server, error) {
	f := &geminiFake{}
	return start(http.HandlerFunc(f.serve))
}

type geminiFake struct {
	seq atomic.Int64
}

// geminiRequest is the part of a GenerateContentRequest that steers the
// fake.
type geminiRequest struct {
	Contents []struct {
		Role  string                       `json:"role"`
		Parts []map[string]json.RawMessage `json:"parts"`
	} `json:"contents"`
	Tools []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig *struct {
		FunctionCallingConfig *struct {
			Mode string `json:"mode"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig *struct {
		ThinkingConfig *struct {
			IncludeThoughts bool `json:"includeThoughts"`
		} `json:"thinkingConfig"`
	} `json:"generationConfig"`
	CachedContent string `json:"cachedContent"`
}

// geminiError writes a Google API error body.
func geminiError(w http.ResponseWriter, code int, status, message string, details ...any) {
	e := map[string]any{"code": code, "message": message, "status": status}
	if len(details) > 0 {
		e["details"] = details
	}
	writeJSON(w, code, mustJSON(map[string]any{"error": e}))
}

func (f *geminiFake) serve(w http.ResponseWriter, r *http.Request) {
	last := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	model, method, _ := strings.Cut(last, ":")
	stream := method == "streamGenerateContent"
	if r.Method != http.MethodPost || !stream && method != "generateContent" {
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "Method not found: "+r.Method+" "+r.URL.Path)
		return
	}
	var req geminiRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received: "+err.Error())
		return
	}

	switch model {
	case ModelRateLimited:
		w.Header().Set("Retry-After", GeminiRetryAfter)
		geminiError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			"Quota exceeded for requests per minute of model "+ModelRateLimited+". Retry in "+GeminiRetryAfter+"s.",
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": GeminiRetryAfter + "s"})
		return
	case ModelServerError:
		geminiError(w, http.StatusInternalServerError, "INTERNAL", "Internal error encountered.")
		return
	}

	if name := r.Header.Get(HeaderScenario); name != "" {
		sc, ok := geminiScenarios[name]
		switch {
		case !ok:
			geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "unknown scenario "+strconv.Quote(name))
		case stream:
			s := newEventStream(w, r)
			for _, block := range transcriptEvents(sc.transcript) {
				if !s.sendRaw(block) {
					return
				}
			}
		case sc.response != "":
			writeJSON(w, http.StatusOK, sc.response)
		default:
			geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "scenario "+strconv.Quote(name)+" is only streamed")
		}
		return
	}

	reply := geminiReply{
		n:        f.seq.Add(1),
		model:    model,
		tool:     geminiOfferedTool(&req),
		vertex:   strings.Contains(r.URL.Path, "/publishers/"),
		cached:   req.CachedContent != "",
		thinking: req.GenerationConfig != nil && req.GenerationConfig.ThinkingConfig != nil,
	}
	reply.thoughts = reply.thinking && req.GenerationConfig.ThinkingConfig.IncludeThoughts
	chunks := reply.chunks()
	switch {
	case !stream:
		writeJSON(w, http.StatusOK, mustJSON(reply.whole()))
	case r.URL.Query().Get("alt") == "sse":
		s := newEventStream(w, r)
		for _, c := range chunks {
			if !s.send("", mustJSON(c)) {
				return
			}
		}
	default:
		streamJSONArray(w, r, chunks)
	}
}

// streamJSONArray writes chunks as a JSON array, one element per flush, as
// streamGenerateContent replies without alt=sse.
func streamJSONArray(w http.ResponseWriter, r *http.Request, chunks []map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	for i, c := range chunks {
		sep := ",\r\n"
		if i == 0 {
			sep = "["
		}
		fmt.Fprint(w, sep+mustJSON(c))
		if flusher != nil {
			flusher.Flush()
		}
		if r.Context().Err() != nil {
			return
		}
	}
	fmt.Fprint(w, "]")
}

// geminiOfferedTool returns the name of the function the reply calls, or ""
// when the reply is text.
func geminiOfferedTool(req *geminiRequest) string {
	if c := req.ToolConfig; c != nil && c.FunctionCallingConfig != nil && c.FunctionCallingConfig.Mode == "NONE" {
		return ""
	}
	if n := len(req.Contents); n > 0 {
		for _, p := range req.Contents[n-1].Parts {
			if _, ok := p["functionResponse"]; ok {
				return ""
			}
		}
	}
	for _, t := range req.Tools {
		if len(t.FunctionDeclarations) > 0 {
			return t.FunctionDeclarations[0].Name
		}
	}
	return ""
}

// geminiReply builds a normal reply of the Gemini fake.
type geminiReply struct {
	n        int64
	model    string
	tool     string
	vertex   bool
	cached   bool
	thinking bool
	thoughts bool
}

func (g geminiReply) usage(candidates int) map[string]any {
	u := map[string]any{
		"promptTokenCount":     GeminiInputTokens,
		"candidatesTokenCount": candidates,
		"totalTokenCount":      GeminiInputTokens + candidates,
		"promptTokensDetails":  []any{map[string]any{"modality": "TEXT", "tokenCount": GeminiInputTokens}},
	}
	if g.cached {
		u["cachedContentTokenCount"] = GeminiCachedInputTokens
	}
	if g.thinking {
		u["thoughtsTokenCount"] = GeminiThoughtsTokens
		u["totalTokenCount"] = GeminiInputTokens + candidates + GeminiThoughtsTokens
	}
	return u
}

// chunk returns one GenerateContentResponse with the given parts.
func (g geminiReply) chunk(parts []any, finish string, candidates int) map[string]any {
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
	if finish != "" {
		cand["finishReason"] = finish
	}
	c := map[string]any{
		"candidates":    []any{cand},
		"usageMetadata": g.usage(candidates),
		"modelVersion":  g.model,
		"responseId":    fmt.Sprintf("fake-gemini-%04d", g.n),
	}
	if g.vertex {
		c["createTime"] = "2023-11-14T22:13:20.000000Z"
	}
	return c
}

// chunks returns the streamed form of the reply. Each chunk's usage is the
// cumulative count so far, and the last one carries the finish reason.
func (g geminiReply) chunks() []map[string]any {
	var out []map[string]any
	if g.thoughts {
		out = append(out, g.chunk([]any{map[string]any{"text": GeminiThoughtText, "thought": true}}, "", 0))
	}
	if g.tool != "" {
		var args any
		json.Unmarshal([]byte(GeminiToolArguments), &args)
		call := map[string]any{"functionCall": map[string]any{"name": g.tool, "args": args}}
		return append(out, g.chunk([]any{call}, "STOP", GeminiOutputTokens))
	}
	pieces := splitWords(GeminiReplyText)
	for i, piece := range pieces {
		finish := ""
		if i == len(pieces)-1 {
			finish = "STOP"
		}
		sofar := GeminiOutputTokens * (i + 1) / len(pieces)
		out = append(out, g.chunk([]any{map[string]any{"text": piece}}, finish, sofar))
	}
	return out
}

// whole returns the unstreamed form of the reply.
func (g geminiReply) whole() map[string]any {
	var parts []any
	if g.thoughts {
		parts = append(parts, map[string]any{"text": GeminiThoughtText, "thought": true})
	}
	if g.tool != "" {
		var args any
		json.Unmarshal([]byte(GeminiToolArguments), &args)
		parts = append(parts, map[string]any{"functionCall": map[string]any{"name": g.tool, "args": args}})
	} else {
		parts = append(parts, map[string]any{"text": GeminiReplyText})
	}
	return g.chunk(parts, "STOP", GeminiOutputTokens)
}
