package matrix_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bijotel/bijotel-go/genai"
)

// TestContentPolicySealed makes a plain call under each content policy
// through two instrumentations, the openai-go middleware and the Bedrock
// SDK middleware, and checks what the sealed row holds of the prompt and
// the reply. Under hash, genai.HashText of the prompt is the proof: whoever
// holds the prompt recomputes it and finds it in the verified row.
func TestContentPolicySealed(t *testing.T) {
	byName := make(map[string]provider)
	for _, p := range providers() {
		byName[p.name] = p
	}
	for _, name := range []string{"openai", "bedrock"} {
		p := byName[name]
		for _, mode := range []genai.ContentMode{genai.CaptureContent, genai.HashContent, genai.OmitContent} {
			t.Run(name+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				srv, err := p.newServer()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { srv.Close() })
				s := newSealer(t)

				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				env := callEnv{url: srv.URL, tp: s.tp, http: loopbackClient(t), opts: []genai.Option{genai.WithContentMode(mode)}}
				if err := p.call(ctx, env, plainCall, p.model); err != nil {
					t.Fatalf("call error = %v, want nil", err)
				}

				row := callRow(t, s.seal(t), p.want.operation, p.want.provider)
				b := &row.body
				b.wantString(t, "bijotel.content.mode", mode.String())
				// The policy covers content only: the call's metadata is
				// sealed under every mode.
				b.wantString(t, "gen_ai.request.model", p.model)
				for key, want := range p.want.usage {
					b.wantInt(t, key, want)
				}

				switch mode {
				case genai.CaptureContent:
					checkCaptured(t, p.want, row)
				case genai.HashContent:
					checkHashed(t, p.want, row)
				case genai.OmitContent:
					checkOmitted(t, p.want, row)
				}
			})
		}
	}
}

// checkCaptured checks that the prompt and the reply are sealed as text.
func checkCaptured(t *testing.T, w expectations, row sealedRow) {
	in := row.body.partsOfType(t, "gen_ai.input.messages", "text")
	if len(in) != 1 || in[0]["content"] != prompt {
		t.Errorf("sealed input text parts = %s, want one with content %q", show(in), prompt)
	}
	out := row.body.partsOfType(t, "gen_ai.output.messages", "text")
	if len(out) != 1 || out[0]["content"] != w.reply {
		t.Errorf("sealed output text parts = %s, want one with content %q", show(out), w.reply)
	}
	if !bytes.Contains(row.raw, []byte(prompt)) {
		t.Errorf("sealed body lacks the prompt %q", prompt)
	}
}

// checkHashed checks that each text part holds the SHA-256 of its text in
// place of the text, and that neither the prompt nor the reply appears
// anywhere in the sealed body.
func checkHashed(t *testing.T, w expectations, row sealedRow) {
	in := row.body.partsOfType(t, "gen_ai.input.messages", "text")
	if len(in) != 1 || in[0]["content_sha256"] != genai.HashText(prompt) {
		t.Errorf("sealed input text parts = %s, want one with content_sha256 %s", show(in), genai.HashText(prompt))
	}
	out := row.body.partsOfType(t, "gen_ai.output.messages", "text")
	if len(out) != 1 || out[0]["content_sha256"] != genai.HashText(w.reply) {
		t.Errorf("sealed output text parts = %s, want one with content_sha256 %s", show(out), genai.HashText(w.reply))
	}
	for _, p := range append(in, out...) {
		if v, ok := p["content"]; ok {
			t.Errorf("sealed text part has content %s, want only content_sha256", show(v))
		}
	}

	if !bytes.Contains(row.raw, []byte(genai.HashText(prompt))) {
		t.Errorf("sealed body lacks genai.HashText(prompt) = %s", genai.HashText(prompt))
	}
	if bytes.Contains(row.raw, []byte(prompt)) {
		t.Errorf("sealed body contains the prompt %q, want only its hash", prompt)
	}
	if bytes.Contains(row.raw, []byte(w.reply)) {
		t.Errorf("sealed body contains the reply %q, want only its hash", w.reply)
	}
}

// checkOmitted checks that no messages are sealed, neither as text nor as
// hashes.
func checkOmitted(t *testing.T, w expectations, row sealedRow) {
	row.body.wantAbsent(t, "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
	for _, text := range []string{prompt, w.reply, genai.HashText(prompt), genai.HashText(w.reply)} {
		if bytes.Contains(row.raw, []byte(text)) {
			t.Errorf("sealed body contains %q, want no trace of the messages", text)
		}
	}
}
