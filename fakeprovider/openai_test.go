package fakeprovider_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

// post sends a JSON body with optional header pairs and returns the
// response.
func post(t *testing.T, url, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// dataLines returns the data lines of an SSE body.
func dataLines(t *testing.T, r io.Reader) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			lines = append(lines, d)
		}
	}
	return lines
}

func newOpenAI(t *testing.T) *fakeprovider.Server {
	t.Helper()
	srv, err := fakeprovider.NewOpenAI()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestOpenAIChatJSON(t *testing.T) {
	srv := newOpenAI(t)
	resp := post(t, srv.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Object != "chat.completion" || c.Choices[0].Message.Content != fakeprovider.OpenAIReplyText ||
		c.Choices[0].FinishReason != "stop" || c.Usage.PromptTokens != fakeprovider.OpenAIInputTokens {
		t.Errorf("reply = %+v", c)
	}
}

func TestOpenAIChatStreamUsageOnlyWhenAsked(t *testing.T) {
	srv := newOpenAI(t)
	for _, ask := range []bool{false, true} {
		body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if ask {
			body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		}
		lines := dataLines(t, post(t, srv.URL+"/v1/chat/completions", body).Body)
		if last := lines[len(lines)-1]; last != "[DONE]" {
			t.Errorf("last event = %q, want [DONE]", last)
		}
		usage := lines[len(lines)-2]
		hasUsage := strings.Contains(usage, `"usage":{`) && strings.Contains(usage, `"choices":[]`)
		if hasUsage != ask {
			t.Errorf("include_usage %v: usage chunk present = %v: %s", ask, hasUsage, usage)
		}
		for _, l := range lines[:len(lines)-2] {
			if strings.Contains(l, `"usage":{`) {
				t.Errorf("usage object before the last chunk: %s", l)
			}
		}
	}
}

func TestOpenAIToolArgumentsSplitMidToken(t *testing.T) {
	srv := newOpenAI(t)
	lines := dataLines(t, post(t, srv.URL+"/v1/chat/completions",
		`{"model":"m","stream":true,"tools":[{"type":"function","function":{"name":"get_weather"}}],"messages":[{"role":"user","content":"hi"}]}`).Body)
	var args []string
	for _, l := range lines {
		var c struct {
			Choices []struct {
				Delta struct {
					ToolCalls []struct {
						Function struct {
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(l), &c) == nil && len(c.Choices) > 0 {
			for _, tc := range c.Choices[0].Delta.ToolCalls {
				if tc.Function.Arguments != "" {
					args = append(args, tc.Function.Arguments)
				}
			}
		}
	}
	if len(args) < 2 || strings.Join(args, "") != fakeprovider.OpenAIToolArguments {
		t.Fatalf("fragments = %q, want several that join to %s", args, fakeprovider.OpenAIToolArguments)
	}
	if json.Valid([]byte(args[0])) {
		t.Errorf("first fragment %q is valid JSON, want a cut inside a token", args[0])
	}
}

func TestOpenAIErrors(t *testing.T) {
	srv := newOpenAI(t)
	tests := []struct {
		model, path string
		status      int
		typ         string
	}{
		{fakeprovider.ModelRateLimited, "/v1/chat/completions", 429, "requests"},
		{fakeprovider.ModelServerError, "/v1/responses", 500, "server_error"},
	}
	for _, tt := range tests {
		resp := post(t, srv.URL+tt.path, `{"model":"`+tt.model+`","input":"hi"}`)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status = %d, want %d", tt.model, resp.StatusCode, tt.status)
		}
		var e struct {
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		if e.Error.Type != tt.typ {
			t.Errorf("%s: error type = %q, want %q", tt.model, e.Error.Type, tt.typ)
		}
		if tt.status == 429 && resp.Header.Get("Retry-After") != fakeprovider.OpenAIRetryAfter {
			t.Errorf("Retry-After = %q, want %q", resp.Header.Get("Retry-After"), fakeprovider.OpenAIRetryAfter)
		}
	}
}

func TestOpenAIResponsesStreamEnds(t *testing.T) {
	srv := newOpenAI(t)
	lines := dataLines(t, post(t, srv.URL+"/v1/responses", `{"model":"m","stream":true,"input":"hi"}`).Body)
	var types []string
	for _, l := range lines {
		var e struct {
			Type string `json:"type"`
		}
		json.Unmarshal([]byte(l), &e)
		types = append(types, e.Type)
	}
	if types[0] != "response.created" || types[len(types)-1] != "response.completed" {
		t.Errorf("event types = %q, want response.created first and response.completed last", types)
	}
}

// HeaderHoldAfter stops the stream after the given number of events and
// keeps it open until the client goes away.
func TestOpenAIHoldAfter(t *testing.T) {
	srv := newOpenAI(t)
	resp := post(t, srv.URL+"/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[]}`,
		fakeprovider.HeaderScenario, fakeprovider.ScenarioChatAnswer, fakeprovider.HeaderHoldAfter, "2")
	got := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				lines = append(lines, d)
				if len(lines) == 2 {
					got <- lines
				}
			}
		}
	}()
	select {
	case lines := <-got:
		if !strings.Contains(lines[1], `"content":"The"`) {
			t.Errorf("second event = %s, want the chunk with \"The\"", lines[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for two events")
	}
	resp.Body.Close()
}

func TestOpenAIUnknownScenario(t *testing.T) {
	srv := newOpenAI(t)
	resp := post(t, srv.URL+"/v1/chat/completions", `{"model":"m"}`, fakeprovider.HeaderScenario, "no-such-scenario")
	if resp.StatusCode != 400 {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
}
