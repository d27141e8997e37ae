// Command bedrock records Amazon Bedrock Converse and ConverseStream calls
// made with the aws-sdk-go-v2 bedrockruntime client as GenAI spans, through
// the otelbedrock middleware, and prints each span when it ends.
//
// The example builds its AWS configuration from the variables below only.
// It loads no shared config file and never requests credentials from the
// instance metadata service. An application would usually call
// config.LoadDefaultConfig instead.
//
// Environment:
//
//	AWS_ACCESS_KEY_ID         access key (required)
//	AWS_SECRET_ACCESS_KEY     secret key (required)
//	AWS_SESSION_TOKEN         session token of temporary credentials (optional)
//	AWS_REGION                region (default us-east-1)
//	BIJOTEL_EXAMPLE_BASE_URL  endpoint URL (default: the region's Bedrock Runtime endpoint)
//	BIJOTEL_EXAMPLE_MODEL     model ID (default anthropic.claude-3-haiku-20240307-v1:0)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelbedrock"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bedrock example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		Source:          "environment",
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	model := envOr("BIJOTEL_EXAMPLE_MODEL", "anthropic.claude-3-haiku-20240307-v1:0")

	// Spans go to a processor that prints them; a bijotel.Processor in its
	// place seals them into a chain.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(printer{out}))
	defer tp.Shutdown(ctx)

	opts := bedrockruntime.Options{
		Region: envOr("AWS_REGION", "us-east-1"),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
	}
	if u := os.Getenv("BIJOTEL_EXAMPLE_BASE_URL"); u != "" {
		opts.BaseEndpoint = aws.String(u)
	}
	client := bedrockruntime.New(opts, otelbedrock.Instrument(genai.WithTracerProvider(tp)))
	messages := []types.Message{{
		Role:    types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Say hello in five words."}},
	}}

	resp, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: messages})
	if err != nil {
		return fmt.Errorf("converse: %w", err)
	}
	if msg, ok := resp.Output.(*types.ConverseOutputMemberMessage); ok {
		for _, block := range msg.Value.Content {
			if t, ok := block.(*types.ContentBlockMemberText); ok {
				fmt.Fprintf(out, "reply: %s\n", t.Value)
			}
		}
	}

	streamOut, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: messages})
	if err != nil {
		return fmt.Errorf("converse stream: %w", err)
	}
	stream := streamOut.GetStream()
	// Close ends the span even when the loop stops before the end.
	defer stream.Close()
	var text string
	for event := range stream.Events() {
		if d, ok := event.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if t, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text += t.Value
			}
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("converse stream: %w", err)
	}
	stream.Close()
	fmt.Fprintf(out, "streamed reply: %s\n", text)
	return tp.ForceFlush(ctx)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// printer is a span processor that prints each ended span's name and
// attributes.
type printer struct{ out io.Writer }

func (p printer) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p printer) OnEnd(s sdktrace.ReadOnlySpan) {
	fmt.Fprintf(p.out, "span %q status=%s\n", s.Name(), s.Status().Code)
	lines := make([]string, 0, len(s.Attributes()))
	for _, kv := range s.Attributes() {
		lines = append(lines, fmt.Sprintf("  %s = %s", kv.Key, kv.Value.Emit()))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(p.out, l)
	}
}

func (p printer) Shutdown(context.Context) error   { return nil }
func (p printer) ForceFlush(context.Context) error { return nil }
