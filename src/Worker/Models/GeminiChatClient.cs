using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker.Models;

/// <summary>
/// <see cref="IChatClient"/> over the Gemini REST API (<c>generateContent</c> and
/// <c>streamGenerateContent?alt=sse</c>). The key travels only in the <c>x-goog-api-key</c> header
/// and never appears in a URL, an exception or a log line. Failures surface as <see cref="ModelException"/>.
/// </summary>
public sealed class GeminiChatClient : IChatClient
{
    public const string ProviderName = "gemini";

    private const string ApiKeyHeader = "x-goog-api-key";

    // Finish reasons that mean Gemini refused (or cut) the answer; any text that came with them is not usable.
    private static readonly HashSet<string> BlockedFinishReasons = new(StringComparer.OrdinalIgnoreCase)
    {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
    };

    private readonly HttpClient _http;
    private readonly string _baseUrl;
    private readonly string _apiKey;
    private readonly string _model;
    private readonly ChatClientMetadata _metadata;

    public GeminiChatClient(HttpClient http, Uri baseUrl, string apiKey, string model)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (string.IsNullOrWhiteSpace(apiKey))
        {
            throw new ArgumentException("A Gemini API key is required.", nameof(apiKey));
        }

        if (string.IsNullOrWhiteSpace(model))
        {
            throw new ArgumentException("A Gemini model name is required.", nameof(model));
        }

        _http = http;
        _baseUrl = baseUrl.ToString().TrimEnd('/');
        _apiKey = apiKey.Trim();
        _model = NormalizeModel(model);
        _metadata = new ChatClientMetadata(ProviderName, baseUrl, _model);
    }

    /// <summary>The default model (without a "models/" prefix).</summary>
    public string Model => _model;

    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var model = ResolveModel(options);
        using var request = CreateRequest(model, stream: false, BuildRequest(messages, options));

        string body;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw MapHttpError((int)response.StatusCode, body, response.Headers, model);
            }
        }
        catch (Exception ex) when (TranslateTransportError(ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        var dto = Deserialize(body);
        if (dto.Error is not null)
        {
            throw MapError(dto.Error.Code ?? 500, dto.Error, retryAfterHeader: null, model);
        }

        return ToChatResponse(dto, model);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var model = ResolveModel(options);
        using var request = CreateRequest(model, stream: true, BuildRequest(messages, options));
        using var response = await SendStreamingAsync(request, model, cancellationToken).ConfigureAwait(false);

        Stream stream;
        try
        {
            stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (TranslateTransportError(ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        using var reader = new StreamReader(stream, Encoding.UTF8);
        var data = new StringBuilder();
        var anyText = false;
        string? lastFinishReason = null;
        string? responseId = null;
        string? modelVersion = null;
        GeminiUsageMetadata? usage = null;

        while (true)
        {
            var line = await ReadLineAsync(reader, cancellationToken).ConfigureAwait(false);
            if (line is null || line.Length == 0)
            {
                // A blank line (or the end of the stream) dispatches the event collected so far.
                if (data.Length > 0)
                {
                    var chunk = Deserialize(data.ToString());
                    data.Clear();

                    if (chunk.Error is not null)
                    {
                        throw MapError(chunk.Error.Code ?? 500, chunk.Error, retryAfterHeader: null, model);
                    }

                    ThrowIfPromptBlocked(chunk, hasText: anyText);
                    responseId ??= chunk.ResponseId;
                    modelVersion = chunk.ModelVersion ?? modelVersion;
                    usage = chunk.UsageMetadata ?? usage;

                    var candidate = chunk.Candidates is { Count: > 0 } candidates ? candidates[0] : null;
                    if (candidate?.FinishReason is { } finish)
                    {
                        if (BlockedFinishReasons.Contains(finish))
                        {
                            throw ModelException.Blocked(finish);
                        }

                        lastFinishReason = finish;
                    }

                    foreach (var text in VisibleTexts(candidate))
                    {
                        anyText = true;
                        yield return new ChatResponseUpdate(ChatRole.Assistant, text)
                        {
                            ModelId = modelVersion ?? model,
                            ResponseId = responseId,
                            MessageId = responseId,
                        };
                    }
                }

                if (line is null)
                {
                    break;
                }

                continue;
            }

            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                var value = line.AsSpan(5);
                if (value.Length > 0 && value[0] == ' ')
                {
                    value = value[1..];
                }

                if (data.Length > 0)
                {
                    data.Append('\n');
                }

                data.Append(value);
            }

            // Other SSE fields (event:, id:, retry:) and comments (":") are ignored.
        }

        if (!anyText)
        {
            throw ModelException.EmptyAnswer(lastFinishReason);
        }

        var final = new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ModelId = modelVersion ?? model,
            ResponseId = responseId,
            MessageId = responseId,
            FinishReason = MapFinishReason(lastFinishReason),
        };
        if (ToUsage(usage) is { } details)
        {
            final.Contents.Add(new UsageContent(details));
        }

        yield return final;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(ChatClientMetadata) ? _metadata : null;
    }

    /// <summary>Does nothing: the <see cref="HttpClient"/> is shared and owned by the caller.</summary>
    public void Dispose()
    {
    }

    private async Task<HttpResponseMessage> SendStreamingAsync(HttpRequestMessage request, string model, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (TranslateTransportError(ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (TranslateTransportError(ex, cancellationToken) is not null)
            {
                body = string.Empty;
            }

            throw MapHttpError((int)response.StatusCode, body, response.Headers, model);
        }
    }

    private static async Task<string?> ReadLineAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (TranslateTransportError(ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    private HttpRequestMessage CreateRequest(string model, bool stream, GeminiRequest body)
    {
        var method = stream ? "streamGenerateContent?alt=sse" : "generateContent";
        var uri = new Uri($"{_baseUrl}/v1beta/models/{Uri.EscapeDataString(model)}:{method}", UriKind.Absolute);
        var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, GeminiJsonContext.Default.GeminiRequest)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(ApiKeyHeader, _apiKey);
        if (stream)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        }

        return request;
    }

    internal static GeminiRequest BuildRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);

        var request = new GeminiRequest();
        var systemParts = new List<GeminiPart>();
        if (!string.IsNullOrWhiteSpace(options?.Instructions))
        {
            systemParts.Add(new GeminiPart { Text = options.Instructions });
        }

        foreach (var message in messages)
        {
            var text = message.Text;
            if (string.IsNullOrEmpty(text))
            {
                continue;
            }

            if (message.Role == ChatRole.System)
            {
                systemParts.Add(new GeminiPart { Text = text });
                continue;
            }

            var role = message.Role == ChatRole.Assistant ? "model" : "user";
            request.Contents.Add(new GeminiContent { Role = role, Parts = [new GeminiPart { Text = text }] });
        }

        if (request.Contents.Count == 0)
        {
            throw new ArgumentException("At least one user message with text is required.", nameof(messages));
        }

        if (systemParts.Count > 0)
        {
            request.SystemInstruction = new GeminiContent { Parts = systemParts };
        }

        if (options is not null &&
            (options.Temperature is not null || options.MaxOutputTokens is not null || options.TopP is not null ||
             options.TopK is not null || options.StopSequences is { Count: > 0 }))
        {
            request.GenerationConfig = new GeminiGenerationConfig
            {
                Temperature = options.Temperature,
                MaxOutputTokens = options.MaxOutputTokens,
                TopP = options.TopP,
                TopK = options.TopK,
                StopSequences = options.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
            };
        }

        return request;
    }

    private ChatResponse ToChatResponse(GeminiResponse dto, string model)
    {
        var candidate = dto.Candidates is { Count: > 0 } candidates ? candidates[0] : null;
        var text = string.Concat(VisibleTexts(candidate));
        var finish = candidate?.FinishReason;

        ThrowIfPromptBlocked(dto, hasText: text.Length > 0);
        if (finish is not null && BlockedFinishReasons.Contains(finish))
        {
            throw ModelException.Blocked(finish);
        }

        if (text.Length == 0)
        {
            throw ModelException.EmptyAnswer(finish);
        }

        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text) { MessageId = dto.ResponseId })
        {
            ModelId = dto.ModelVersion ?? model,
            ResponseId = dto.ResponseId,
            FinishReason = MapFinishReason(finish),
            Usage = ToUsage(dto.UsageMetadata),
        };
    }

    private static void ThrowIfPromptBlocked(GeminiResponse dto, bool hasText)
    {
        if (dto.PromptFeedback is not { } feedback)
        {
            return;
        }

        if (!string.IsNullOrEmpty(feedback.BlockReason))
        {
            throw ModelException.Blocked(feedback.BlockReason);
        }

        // Prompt feedback without candidates (e.g. only a blockReasonMessage) also means: no answer.
        if (!hasText && dto.Candidates is null or { Count: 0 })
        {
            throw ModelException.Blocked(null);
        }
    }

    private static IEnumerable<string> VisibleTexts(GeminiCandidate? candidate)
    {
        if (candidate?.Content?.Parts is not { } parts)
        {
            yield break;
        }

        foreach (var part in parts)
        {
            if (part.Thought != true && !string.IsNullOrEmpty(part.Text))
            {
                yield return part.Text;
            }
        }
    }

    private static ChatFinishReason? MapFinishReason(string? finish) => finish switch
    {
        null or "" => null,
        "STOP" => ChatFinishReason.Stop,
        "MAX_TOKENS" => ChatFinishReason.Length,
        _ when BlockedFinishReasons.Contains(finish) => ChatFinishReason.ContentFilter,
        _ => new ChatFinishReason(finish),
    };

    private static UsageDetails? ToUsage(GeminiUsageMetadata? usage) =>
        usage is null
            ? null
            : new UsageDetails
            {
                InputTokenCount = usage.PromptTokenCount,
                OutputTokenCount = usage.CandidatesTokenCount,
                TotalTokenCount = usage.TotalTokenCount,
                ReasoningTokenCount = usage.ThoughtsTokenCount,
            };

    private static GeminiResponse Deserialize(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, GeminiJsonContext.Default.GeminiResponse)
                ?? throw ModelException.Other("the response body was empty");
        }
        catch (JsonException ex)
        {
            // JsonException messages carry positions, not body content; keep it only as the inner exception.
            throw ModelException.Other("the response was not valid JSON", inner: ex);
        }
    }

    private ModelException MapHttpError(int status, string body, HttpResponseHeaders headers, string model)
    {
        GeminiError? error = null;
        if (!string.IsNullOrWhiteSpace(body))
        {
            try
            {
                error = JsonSerializer.Deserialize(body, GeminiJsonContext.Default.GeminiErrorEnvelope)?.Error;
            }
            catch (JsonException)
            {
                // Not JSON (e.g. an HTML page from a proxy): classify by status alone.
            }
        }

        // Some errors only say what is wrong in text; look for the invalid-key marker in the raw body too.
        var keyRejected = body.Contains("API_KEY_INVALID", StringComparison.Ordinal) ||
                          body.Contains("API key not valid", StringComparison.OrdinalIgnoreCase) ||
                          body.Contains("API_KEY_EXPIRED", StringComparison.Ordinal);
        return MapError(status, error ?? new GeminiError { Code = status }, headers.RetryAfter, model, keyRejected);
    }

    private ModelException MapError(int status, GeminiError error, RetryConditionHeaderValue? retryAfterHeader, string model, bool keyRejected = false)
    {
        var detail = SafeDetail(error.Message);
        keyRejected |= error.Details?.Any(d => d.Reason is "API_KEY_INVALID" or "API_KEY_EXPIRED") == true ||
                       error.Message?.Contains("API key not valid", StringComparison.OrdinalIgnoreCase) == true;

        if (keyRejected || status is 401 or 403)
        {
            return ModelException.InvalidKey(detail, status);
        }

        var retryAfter = ParseRetryDelay(error) ?? FromHeader(retryAfterHeader);
        return status switch
        {
            404 => ModelException.UnknownModel(model, detail, status),
            429 => ModelException.Quota(retryAfter, detail, status),
            500 or 502 or 503 or 504 => ModelException.Overloaded(detail, status, retryAfter),
            _ => ModelException.Other(detail, status),
        };
    }

    private string? SafeDetail(string? message)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            return null;
        }

        // Remove the exact key first (it may not look like "AIza..."), then the generic key-like patterns.
        return ModelException.Sanitize(message.Replace(_apiKey, "[redacted]", StringComparison.Ordinal));
    }

    /// <summary>Parses google.rpc.RetryInfo.retryDelay (a protobuf Duration, "37s" or "1.500s").</summary>
    internal static TimeSpan? ParseRetryDelay(GeminiError error)
    {
        var raw = error.Details?.FirstOrDefault(d => d.RetryDelay is not null)?.RetryDelay?.Trim();
        if (raw is null || !raw.EndsWith('s'))
        {
            return null;
        }

        return double.TryParse(raw.AsSpan(0, raw.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : null;
    }

    private static TimeSpan? FromHeader(RetryConditionHeaderValue? header)
    {
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>Maps transport failures to <see cref="ModelErrorKind.Network"/>; caller cancellation and our own exceptions pass through.</summary>
    private static ModelException? TranslateTransportError(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        ModelException => null,
        OperationCanceledException when cancellationToken.IsCancellationRequested => null,
        OperationCanceledException => ModelException.Network(ex, timedOut: true), // HttpClient.Timeout
        HttpRequestException or IOException => ModelException.Network(ex),
        _ => null,
    };

    private string ResolveModel(ChatOptions? options) =>
        string.IsNullOrWhiteSpace(options?.ModelId) ? _model : NormalizeModel(options.ModelId);

    private static string NormalizeModel(string model)
    {
        model = model.Trim();
        return model.StartsWith("models/", StringComparison.Ordinal) ? model["models/".Length..] : model;
    }
}
