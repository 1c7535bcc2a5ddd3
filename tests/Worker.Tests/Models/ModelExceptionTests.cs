using AiSystem.Worker.Models;

namespace AiSystem.Worker.Tests;

public sealed class ModelExceptionTests
{
    [Theory]
    [InlineData(ModelErrorKind.InvalidKey, false)]
    [InlineData(ModelErrorKind.UnknownModel, false)]
    [InlineData(ModelErrorKind.Blocked, false)]
    [InlineData(ModelErrorKind.Quota, true)]
    [InlineData(ModelErrorKind.Overloaded, true)]
    [InlineData(ModelErrorKind.Network, true)]
    [InlineData(ModelErrorKind.Other, true)]
    public void Retryable_depends_on_the_kind(ModelErrorKind kind, bool retryable) =>
        Assert.Equal(retryable, new ModelException(kind, "message").Retryable);

    [Fact]
    public void Sanitize_removes_key_like_tokens_and_shortens()
    {
        var text = "bad key AIzaSyA1b2C3d4E5f6G7h8 in https://h/p?key=abc123&x=1 and x-goog-api-key: zzz " + new string('x', 500);

        var clean = ModelException.Sanitize(text);

        Assert.DoesNotContain("AIzaSyA1b2C3d4E5f6G7h8", clean, StringComparison.Ordinal);
        Assert.DoesNotContain("abc123", clean, StringComparison.Ordinal);
        Assert.DoesNotContain("zzz", clean, StringComparison.Ordinal);
        Assert.Contains("[redacted]", clean, StringComparison.Ordinal);
        Assert.True(clean.Length <= 200);
    }

    [Fact]
    public void Message_includes_the_sanitized_detail_only()
    {
        var ex = new ModelException(ModelErrorKind.Other, "Something failed.", detail: "echo AIzaTEST-secret-key-123");

        Assert.Equal("Something failed.", ex.UserMessage);
        Assert.DoesNotContain("AIzaTEST-secret-key-123", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("AIzaTEST-secret-key-123", ex.Detail, StringComparison.Ordinal);
        Assert.StartsWith("Something failed.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quota_message_mentions_the_wait()
    {
        var ex = ModelException.Quota(TimeSpan.FromSeconds(37));

        Assert.Equal(ModelErrorKind.Quota, ex.Kind);
        Assert.Equal(TimeSpan.FromSeconds(37), ex.RetryAfter);
        Assert.Contains("37 seconds", ex.UserMessage, StringComparison.Ordinal);
        Assert.Contains("quota is exhausted", ex.UserMessage, StringComparison.Ordinal);
    }
}
