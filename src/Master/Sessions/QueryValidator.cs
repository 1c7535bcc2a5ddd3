namespace AiSystem.Master.Sessions;

/// <summary>Decides whether a question may be queued, and says why not in words the user can act on.</summary>
public sealed class QueryValidator(int maxQueryChars)
{
    public string? Validate(string? query)
    {
        if (string.IsNullOrWhiteSpace(query))
            return "The question is empty. Type a question and send it again.";
        if (query.Length > maxQueryChars)
            return $"The question is too long ({query.Length} characters; the limit is {maxQueryChars}). Shorten it and send it again.";
        return null;
    }
}
