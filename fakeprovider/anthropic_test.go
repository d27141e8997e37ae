package fakeprovider_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bijotel/bijotel-go/fakeprovider"
)

func newAnthropic(t *testing.T) *fakeprovider.Server {
	t.Helper()
	srv, err := fakeprovider.NewAnthropic()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestAnthropicStreamEventOrder(t *testing.T) {
	srv := newAnthropic(t)
	lines := dataLines(t, post(t, srv.URL+"/v1/messages",
		`{"model":"m","max_tokens":10,"stream":true,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"}]}`).Body)
	var types, fragments []string
	for _, l := range lines {
		var e struct {
			Type  string `json:"type"`
			Delta struct {
				Type        string `json:"type"`
				PartialJSON string `json:"partial_json"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("event is not JSON: %s", l)
		}
		types = append(types, e.Type)
		if e.Delta.Type == "input_json_delta" && e.Delta.PartialJSON != "" {
			fragments = append(fragments, e.Delta.PartialJSON)
		}
	}
	if types[0] != "message_start" || types[len(types)-2] != "message_delta" || types[len(types)-1] != "message_stop" {
		t.Errorf("event types = %q", types)
	}
	if strings.Join(fragments, "") != fakeprovider.AnthropicToolInput || json.Valid([]byte(fragments[0])) {
		t.Errorf("input fragments = %q, want pieces cut inside tokens that join to %s", fragments, fakeprovider.AnthropicToolInput)
	}
}

func TestAnthropicErrors(t *testing.T) {
	srv := newAnthropic(t)
	tests := []struct {
		model  string
		status int
		typ    string
	}{
		{fakeprovider.ModelRateLimited, 429, "rate_limit_error"},
		{fakeprovider.ModelOverloaded, 529, "overloaded_error"},
		{fakeprovider.ModelServerError, 500, "api_error"},
	}
	for _, tt := range tests {
		resp := post(t, srv.URL+"/v1/messages", `{"model":"`+tt.model+`","max_tokens":10,"messages":[]}`)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status = %d, want %d", tt.model, resp.StatusCode, tt.status)
		}
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		if e.Type != "error" || e.Error.Type != tt.typ {
			t.Errorf("%s: body type %q, error type %q, want error and %q", tt.model, e.Type, e.Error.Type, tt.typ)
		}
		if tt.status == 429 && resp.Header.Get("Retry-After") != fakeprovider.AnthropicRetryAfter {
			t.Errorf("retry-after = %q, want %q", resp.Header.Get("Retry-After"), fakeprovider.AnthropicRetryAfter)
		}
	}
}

// A scenario replays its transcript byte for byte.
func TestAnthropicScenarioReplay(t *testing.T) {
	srv := newAnthropic(t)
	lines := dataLines(t, post(t, srv.URL+"/v1/messages", `{"model":"m","max_tokens":10,"stream":true,"messages":[]}`,
		fakeprovider.HeaderScenario, fakeprovider.ScenarioAnthropicCutToolInput).Body)
	want := `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"locat"}}`
	found := false
	for _, l := range lines {
		found = found || l == want
	}
	if !found || !strings.Contains(lines[len(lines)-2], `"stop_reason":"max_tokens"`) {
		t.Errorf("events = %q, want the cut fragment and stop reason max_tokens", lines)
	}
}
