using System.Text.RegularExpressions;

namespace AiSystem.Worker.Models;

/// <summary>
/// A failed model call. <see cref="UserMessage"/> is a sentence an end user understands and can act on;
/// it is built from <see cref="Kind"/>, never copied from the provider's response body.
/// Nothing in this exception ever contains the API key.
/// </summary>
public sealed partial class ModelException : Exception
{
    private const int MaxDetailLength = 200;

    public ModelException(
        ModelErrorKind kind,
        string userMessage,
        TimeSpan? retryAfter = null,
        string? detail = null,
        int? statusCode = null,
        Exception? innerException = null)
        : base(ComposeMessage(userMessage, detail), innerException)
    {
        Kind = kind;
        UserMessage = userMessage;
        RetryAfter = retryAfter;
        Detail = string.IsNullOrWhiteSpace(detail) ? null : Sanitize(detail);
        StatusCode = statusCode;
    }

    public ModelErrorKind Kind { get; }

    /// <summary>A sentence for the end user, e.g. "The Gemini API key was rejected. ...".</summary>
    public string UserMessage { get; }

    /// <summary>How long the provider asked us to wait (google.rpc.RetryInfo.retryDelay or Retry-After), if it said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>A short, sanitized detail from the provider's error message (no key-like tokens), or null.</summary>
    public string? Detail { get; }

    /// <summary>The HTTP status of the failed call, when there was one.</summary>
    public int? StatusCode { get; }

    /// <summary>False for <see cref="ModelErrorKind.InvalidKey"/>, <see cref="ModelErrorKind.UnknownModel"/> and <see cref="ModelErrorKind.Blocked"/>.</summary>
    public bool Retryable => Kind is not (ModelErrorKind.InvalidKey or ModelErrorKind.UnknownModel or ModelErrorKind.Blocked);

    public static ModelException InvalidKey(string? detail = null, int? statusCode = null) =>
        new(ModelErrorKind.InvalidKey,
            "The Gemini API key was rejected. Check the key in the settings or leave it empty to use the server's key.",
            detail: detail, statusCode: statusCode);

    public static ModelException UnknownModel(string model, string? detail = null, int? statusCode = null) =>
        new(ModelErrorKind.UnknownModel,
            $"Gemini does not know the model \"{Sanitize(model)}\". Check the model name in the settings (for example \"gemini-2.5-flash\").",
            detail: detail, statusCode: statusCode);

    public static ModelException Quota(TimeSpan? retryAfter, string? detail = null, int? statusCode = null) =>
        new(ModelErrorKind.Quota,
            retryAfter is { } wait && wait > TimeSpan.Zero
                ? $"The Gemini API quota is exhausted for now. Try again later (Gemini suggests waiting about {FormatWait(wait)})."
                : "The Gemini API quota is exhausted for now. Try again later.",
            retryAfter, detail, statusCode);

    public static ModelException Overloaded(string? detail = null, int? statusCode = null, TimeSpan? retryAfter = null) =>
        new(ModelErrorKind.Overloaded,
            "The Gemini model is overloaded right now. Try again in a moment.",
            retryAfter, detail, statusCode);

    public static ModelException Blocked(string? reason = null) =>
        new(ModelErrorKind.Blocked,
            reason is "RECITATION"
                ? "Gemini stopped this answer because it repeated protected material too closely. Try rephrasing the question."
                : "Gemini declined to answer this question (blocked for safety). Try rephrasing it.",
            detail: reason is null ? null : $"block reason: {reason}");

    public static ModelException Network(Exception? inner, bool timedOut = false) =>
        new(ModelErrorKind.Network,
            timedOut
                ? "The Gemini API did not answer in time. Check the network connection and try again."
                : "The Gemini API could not be reached. Check the network connection and try again.",
            innerException: inner);

    public static ModelException EmptyAnswer(string? finishReason = null) =>
        new(ModelErrorKind.Other,
            finishReason is "MAX_TOKENS"
                ? "The model returned an empty answer (it ran out of output tokens). Try again or allow a longer answer."
                : "The model returned an empty answer. Try again or rephrase the question.",
            detail: finishReason is null ? null : $"finish reason: {finishReason}");

    public static ModelException Other(string? detail = null, int? statusCode = null, Exception? inner = null) =>
        new(ModelErrorKind.Other,
            statusCode is { } code
                ? $"The Gemini API returned an error (HTTP {code}). Try again later."
                : "The Gemini API returned an unexpected response. Try again later.",
            detail: detail, statusCode: statusCode, innerException: inner);

    /// <summary>
    /// Removes anything that looks like a Google API key (AIza... tokens, key=... query values)
    /// and shortens the text to a single line of at most 200 characters.
    /// </summary>
    public static string Sanitize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cleaned = KeyLikeToken().Replace(text, "[redacted]");
        cleaned = KeyQueryValue().Replace(cleaned, "${name}=[redacted]");
        cleaned = Whitespace().Replace(cleaned, " ").Trim();
        return cleaned.Length <= MaxDetailLength ? cleaned : string.Concat(cleaned.AsSpan(0, MaxDetailLength - 1), "…");
    }

    private static string ComposeMessage(string userMessage, string? detail) =>
        string.IsNullOrWhiteSpace(detail) ? userMessage : $"{userMessage} (Detail: {Sanitize(detail)})";

    private static string FormatWait(TimeSpan wait) =>
        wait.TotalSeconds < 90
            ? $"{Math.Ceiling(wait.TotalSeconds):0} seconds"
            : $"{Math.Ceiling(wait.TotalMinutes):0} minutes";

    [GeneratedRegex(@"AIza[0-9A-Za-z_\-]{4,}")]
    private static partial Regex KeyLikeToken();

    [GeneratedRegex(@"(?<name>\b(?:key|api_key|apikey|x-goog-api-key))\s*[=:]\s*[^\s&""',;]+", RegexOptions.IgnoreCase)]
    private static partial Regex KeyQueryValue();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
