namespace AiSystem.SwarmCheck;

/// <summary>The security checks' shared parts: <c>--name value</c> options, and one PASS/FAIL line per expectation.</summary>
public sealed class CheckArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public CheckArgs(string[] args)
    {
        for (var i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"{args[0]}: expected --name value, got '{args[i]}'");
            _values[args[i][2..]] = args[++i];
        }
    }

    public string Get(string name) => _values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required");

    public int Int(string name) => int.TryParse(Get(name), out var n) ? n : throw new ArgumentException($"--{name} must be a number");

    /// <summary>The first line of a file given by path (a password kept by deploy.sh), never on the command line itself.</summary>
    public string Secret(string name) => File.ReadAllText(Get(name)).Trim();
}

public sealed class Verdicts(string check)
{
    private int _failed;

    public void Expect(bool ok, string what, string? detail = null)
    {
        if (!ok) _failed++;
        Console.WriteLine($"{(ok ? "ok  " : "FAIL")}  [{check}] {what}{(detail is null ? "" : $" ({detail})")}");
    }

    public int ExitCode => _failed == 0 ? 0 : 1;
}
