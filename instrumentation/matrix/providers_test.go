package matrix_test

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	cohere "github.com/cohere-ai/cohere-go/v2"
	cohereoption "github.com/cohere-ai/cohere-go/v2/option"
	cohereclient "github.com/cohere-ai/cohere-go/v2/v2"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"go.opentelemetry.io/otel/trace"
	gg "google.golang.org/genai"

	"github.com/bijotel/bijotel-go/genai"
	"github.com/bijotel/bijotel-go/instrumentation/otelanthropic"
	"github.com/bijotel/bijotel-go/instrumentation/otelbedrock"
	"github.com/bijotel/bijotel-go/instrumentation/otelcohere"
	"github.com/bijotel/bijotel-go/instrumentation/otelgemini"
	"github.com/bijotel/bijotel-go/instrumentation/otelopenai"
)

// prompt is the user message of every call.
const prompt = "What is the weather in Paris?"

// The tool that the tool-call cells offer. Each fake calls the first tool
// it is offered with {"location":"Paris","unit":"celsius"}.
const (
	toolName        = "get_weather"
	toolDescription = "Current weather of a city."
)

var toolParameters = map[string]any{
	"type":       "object",
	"properties": map[string]any{"location": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string"}},
	"required":   []any{"location"},
}

// callEnv is what a provider's call function needs: the fake server's URL,
// the TracerProvider that seals spans, a loopback-only HTTP client and the
// options of the genai instrumentations.
type callEnv struct {
	url  string
	tp   trace.TracerProvider
	http *http.Client
	opts []genai.Option
}

// genaiOptions returns the instrumentation options: the TracerProvider
// under test, then env.opts.
func (env callEnv) genaiOptions(extra ...genai.Option) []genai.Option {
	opts := append([]genai.Option{genai.WithTracerProvider(env.tp)}, extra...)
	return append(opts, env.opts...)
}

// callOpenAIMiddleware makes a Chat Completions call with openai-go and the
// otelopenai middleware. prefix is the base URL's path, such as "/v1/".
func callOpenAIMiddleware(prefix string, extra ...genai.Option) callFunc {
	return func(ctx context.Context, env callEnv, k callKind, model string) error {
		client := openai.NewClient(
			openaioption.WithBaseURL(env.url+prefix),
			openaioption.WithAPIKey("test-key"),
			openaioption.WithHTTPClient(env.http),
			// openai-go retries a 429 and a 5xx twice by default, and the
			// middleware runs once per attempt, so each attempt would be a
			// span. With no retries, one call is one attempt and one span.
			openaioption.WithMaxRetries(0),
			openaioption.WithMiddleware(otelopenai.Middleware(env.genaiOptions(extra...)...)),
		)
		params := openAIParams(k, model)
		if !k.streamed() {
			_, err := client.Chat.Completions.New(ctx, params)
			return err
		}
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		defer stream.Close()
		for stream.Next() {
		}
		return stream.Err()
	}
}

func openAIParams(k callKind, model string) openai.ChatCompletionNewParams {
	params := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}
	if k.streamed() {
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	}
	if k.offersTool() {
		params.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        toolName,
			Description: openai.String(toolDescription),
			Parameters:  shared.FunctionParameters(toolParameters),
		})}
	}
	return params
}

// callWrap records a Chat Completions call of a plain openai-go client,
// without middleware, with genai.Wrap. A streamed call is wrapped whole:
// the stream is read inside the wrapped function and its accumulated
// completion is the result.
func callWrap(ctx context.Context, env callEnv, k callKind, model string) error {
	cfg, err := genai.NewConfig(env.genaiOptions()...)
	if err != nil {
		return err
	}
	client := openai.NewClient(
		openaioption.WithBaseURL(env.url+"/v1/"),
		openaioption.WithAPIKey("test-key"),
		openaioption.WithHTTPClient(env.http),
		// genai.Wrap records one span for all attempts of a call. Retries
		// are off so that an error cell makes one request and ends without
		// waiting for the Retry-After.
		openaioption.WithMaxRetries(0),
	)
	params := openAIParams(k, model)
	req := otelopenai.ChatCompletionRequest(params)
	if !k.streamed() {
		_, err := genai.Wrap(ctx, cfg, req, func(ctx context.Context) (*openai.ChatCompletion, error) {
			c, err := client.Chat.Completions.New(ctx, params)
			return c, otelopenai.TypedError(err)
		}, otelopenai.ChatCompletionResponse)
		return err
	}

	req.Stream = true
	_, err = genai.Wrap(ctx, cfg, req, func(ctx context.Context) (*openai.ChatCompletion, error) {
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			return nil, otelopenai.TypedError(err)
		}
		return &acc.ChatCompletion, nil
	}, otelopenai.ChatCompletionResponse)
	return err
}

// callAnthropic makes a Messages API call with the Anthropic SDK, whose own
// span is sealed, in content mode and with the otelanthropic middleware.
func callAnthropic(ctx context.Context, env callEnv, k callKind, model string) error {
	client := anthropic.NewClient(
		anthropicoption.WithBaseURL(env.url),
		anthropicoption.WithAPIKey("test-key"),
		anthropicoption.WithHTTPClient(env.http),
		// The SDK records one span per call whatever its retries, but it
		// retries a 429 and a 5xx twice by default. With no retries the
		// fake gets exactly one request.
		anthropicoption.WithMaxRetries(0),
		anthropicoption.WithTracerProvider(env.tp),
		otelanthropic.WithContent(),
		anthropicoption.WithMiddleware(otelanthropic.Middleware()),
	)
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
	}
	if k.offersTool() {
		params.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        toolName,
			Description: anthropic.String(toolDescription),
			InputSchema: anthropic.ToolInputSchemaParam{
				Properties: toolParameters["properties"],
				Required:   []string{"location"},
			},
		}}}
	}
	if !k.streamed() {
		_, err := client.Messages.New(ctx, params)
		return err
	}
	stream := client.Messages.NewStreaming(ctx, params)
	defer stream.Close()
	for stream.Next() {
	}
	return stream.Err()
}

// callGemini makes a generateContent or streamGenerateContent call with
// google.golang.org/genai over the otelgemini HTTP client. The SDK retries
// only when HTTPOptions sets RetryOptions, which it does not here.
func callGemini(ctx context.Context, env callEnv, k callKind, model string) error {
	client, err := gg.NewClient(ctx, &gg.ClientConfig{
		APIKey:      "test-key",
		Backend:     gg.BackendGeminiAPI,
		HTTPClient:  otelgemini.NewHTTPClient(env.http, env.genaiOptions()...),
		HTTPOptions: gg.HTTPOptions{BaseURL: env.url},
	})
	if err != nil {
		return err
	}
	cfg := &gg.GenerateContentConfig{}
	if k.offersTool() {
		cfg.Tools = []*gg.Tool{{FunctionDeclarations: []*gg.FunctionDeclaration{{
			Name:                 toolName,
			Description:          toolDescription,
			ParametersJsonSchema: toolParameters,
		}}}}
	}
	if !k.streamed() {
		_, err := client.Models.GenerateContent(ctx, model, gg.Text(prompt), cfg)
		return err
	}
	for _, err := range client.Models.GenerateContentStream(ctx, model, gg.Text(prompt), cfg) {
		if err != nil {
			return err
		}
	}
	return nil
}

// callCohere makes a v2 chat call with cohere-go over the otelcohere HTTP
// client.
func callCohere(ctx context.Context, env callEnv, k callKind, model string) error {
	client := cohereclient.NewClient(
		cohereoption.WithToken("test-key"),
		cohereoption.WithBaseURL(env.url),
		cohereoption.WithHTTPClient(otelcohere.NewHTTPClient(env.http, env.genaiOptions()...)),
		// cohere-go retries a 429 and a 5xx (two attempts by default), and
		// every attempt is a span of its own. One attempt is one span.
		cohereoption.WithMaxAttempts(1),
	)
	messages := cohere.ChatMessages{{Role: "user", User: &cohere.UserMessageV2{Content: &cohere.UserMessageV2Content{String: prompt}}}}
	var tools []*cohere.ToolV2
	if k.offersTool() {
		tools = []*cohere.ToolV2{{
			Type: cohere.String("function"),
			Function: &cohere.ToolV2Function{
				Name:        toolName,
				Description: cohere.String(toolDescription),
				Parameters:  toolParameters,
			},
		}}
	}
	if !k.streamed() {
		_, err := client.Chat(ctx, &cohere.V2ChatRequest{Model: model, Messages: messages, Tools: tools})
		return err
	}
	stream, err := client.ChatStream(ctx, &cohere.V2ChatStreamRequest{Model: model, Messages: messages, Tools: tools})
	if err != nil {
		return err
	}
	defer stream.Close()
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// callBedrock makes a Converse or ConverseStream call with the
// bedrockruntime client and the otelbedrock middleware. The client has
// static fake credentials and loads no shared configuration, so it never
// requests credentials from the instance metadata service.
func callBedrock(ctx context.Context, env callEnv, k callKind, model string) error {
	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(env.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDFAKEFORTESTS", SecretAccessKey: "fake-secret", Source: "test"}, nil
		}),
		HTTPClient: env.http,
		// otelbedrock records one span for all attempts of a call, but the
		// SDK retries a 429 and a 5xx with back-off. With one attempt the
		// fake gets exactly one request.
		Retryer: aws.NopRetryer{},
	}, otelbedrock.Instrument(env.genaiOptions()...))

	messages := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}}
	var tools *types.ToolConfiguration
	if k.offersTool() {
		tools = &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
			Name:        aws.String(toolName),
			Description: aws.String(toolDescription),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(toolParameters)},
		}}}}
	}
	if !k.streamed() {
		_, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: messages, ToolConfig: tools})
		return err
	}
	out, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: messages, ToolConfig: tools})
	if err != nil {
		return err
	}
	stream := out.GetStream()
	defer stream.Close()
	for range stream.Events() {
	}
	return stream.Err()
}
