package otelanthropic

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/bijotel/bijotel-go/genai"
)

// messageState is the state of a streamed message that Middleware tracks.
type messageState struct {
	usage  usage
	blocks map[int64]*blockState
	// reasons are the incompleteness reasons recorded so far.
	reasons []string
}

type blockState struct {
	typ, id string
	input   strings.Builder
}

// streamEvent is one event of a Messages API stream, with the fields that
// Middleware reads.
type streamEvent struct {
	Type    string `json:"type"`
	Index   *int64 `json:"index"`
	Message *struct {
		Usage *usage `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"content_block"`
	Delta *struct {
		Type        string `json:"type"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usage `json:"usage"`
}

// event applies one stream event and sets the attributes it settles.
func (b *body) event(name string, data []byte) {
	var e streamEvent
	if json.Unmarshal(data, &e) != nil {
		return
	}
	if e.Type == "" {
		e.Type = name
	}
	m := &b.msg
	if m.blocks == nil {
		m.blocks = make(map[int64]*blockState)
	}
	var index int64
	if e.Index != nil {
		index = *e.Index
	}

	switch e.Type {
	case "message_start":
		if e.Message != nil && e.Message.Usage != nil {
			m.usage = *e.Message.Usage
			b.setCacheCreation()
		}
	case "content_block_start":
		blk := &blockState{}
		if e.ContentBlock != nil {
			blk.typ, blk.id = e.ContentBlock.Type, e.ContentBlock.ID
		}
		m.blocks[index] = blk
	case "content_block_delta":
		blk := m.blocks[index]
		if blk == nil {
			// The fragment is kept as an unnamed block, so that its stop
			// is not reported a second time.
			blk = &blockState{typ: "unknown"}
			m.blocks[index] = blk
			b.markIncomplete(fmt.Sprintf("content_block_delta for index %d without content_block_start", index))
		}
		if e.Delta != nil && e.Delta.Type == "input_json_delta" {
			blk.input.WriteString(e.Delta.PartialJSON)
		}
	case "content_block_stop":
		blk := m.blocks[index]
		switch {
		case blk == nil:
			b.markIncomplete(fmt.Sprintf("content_block_stop for index %d without content_block_start", index))
		case isToolUse(blk.typ) && blk.input.Len() > 0 && !json.Valid([]byte(blk.input.String())):
			b.markIncomplete(fmt.Sprintf("%s block %s stopped with input that is not valid JSON", blk.typ, blk.id))
		}
	case "message_delta":
		m.usage.merge(e.Usage)
		var attrs []attribute.KeyValue
		if e.Delta != nil && e.Delta.StopReason != "" {
			attrs = append(attrs, semconv.GenAIResponseFinishReasons(e.Delta.StopReason))
		}
		if m.usage.OutputTokens != nil {
			attrs = append(attrs, genai.UsageMissingKey.Bool(false))
		}
		b.span.SetAttributes(attrs...)
		b.setCacheCreation()
	}
}

func isToolUse(typ string) bool {
	return typ == "tool_use" || typ == "server_tool_use" || typ == "mcp_tool_use"
}

func (b *body) setCacheCreation() {
	if c := b.msg.usage.CacheCreationInputTokens; c != nil {
		b.span.SetAttributes(semconv.GenAIUsageCacheCreationInputTokensKey.Int64(*c))
	}
}

func (b *body) markIncomplete(reason string) {
	b.msg.reasons = append(b.msg.reasons, reason)
	b.span.SetAttributes(genai.IncompleteKey.Bool(true), genai.IncompleteReasonKey.String(strings.Join(b.msg.reasons, "; ")))
}
