namespace AiSystem.Ctl;

/// <summary>
/// A failure aictl explains to the operator: <see cref="Exception.Message"/> is the one line printed on stderr
/// (after <c>aictl: </c>), saying what went wrong and what to do. Never carries a stack trace to the screen.
/// </summary>
public sealed class CtlException(string message, int exitCode = 1, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
