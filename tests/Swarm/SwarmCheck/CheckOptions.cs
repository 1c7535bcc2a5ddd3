namespace AiSystem.SwarmCheck;

public sealed record CheckOptions(string Url, int Questions, int Sessions, string Label, string? ReadyFile, TimeSpan Timeout,
    string? SessionsOut, string? SessionsIn, string? CaFile = null)
{
    public static CheckOptions Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("ask" or "history"))
            throw new ArgumentException("usage: swarm-check ask --url URL --questions N [--sessions S] [--label L] [--ready-file F] [--sessions-out F] [--timeout SECONDS]\n" +
                                        "       swarm-check history --url URL --sessions-in F [--label L]\n" +
                                        "       (both take --ca-file F for an https:// URL)");
        var verb = args[0];
        string? url = null, label = "check", ready = null, sessionsOut = null, sessionsIn = null, caFile = null;
        int questions = 0, sessions = 1, timeout = 300;
        for (var i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Number(string name) => int.TryParse(Next(), out var n) && n > 0 ? n : throw new ArgumentException($"{name} needs a positive number");
            switch (args[i])
            {
                case "--url": url = Next().TrimEnd('/'); break;
                case "--questions": questions = Number("--questions"); break;
                case "--sessions": sessions = Number("--sessions"); break;
                case "--label": label = Next(); break;
                case "--ready-file": ready = Next(); break;
                case "--timeout": timeout = Number("--timeout"); break;
                case "--sessions-out": sessionsOut = Next(); break;
                case "--sessions-in": sessionsIn = Next(); break;
                case "--ca-file": caFile = Next(); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out _)) throw new ArgumentException("--url must be the master's web address, e.g. http://127.0.0.1:8888");
        if (verb == "history")
        {
            if (sessionsIn is null) throw new ArgumentException("history needs --sessions-in (a file written by ask --sessions-out)");
            return new CheckOptions(url, 0, 0, label, null, TimeSpan.FromSeconds(timeout), null, sessionsIn, caFile);
        }
        if (questions == 0) throw new ArgumentException("--questions is required");
        if (sessions > questions) sessions = questions;
        return new CheckOptions(url, questions, sessions, label, ready, TimeSpan.FromSeconds(timeout), sessionsOut, null, caFile);
    }
}
