using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Threading.Channels;

namespace AiSystem.Ctl;

/// <summary>
/// The aictl command tree and its entry point. <see cref="RunAsync"/> parses, runs one command and returns the exit
/// code: 0 done, 1 failed (one <c>aictl: ...</c> line on stderr), 2 bad usage, 130 interrupted.
/// </summary>
public static class Cli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;

    public static async Task<int> RunAsync(string[] args, CtlContext context, CancellationToken ct = default)
    {
        var root = Build(context);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction && parse.Errors.Count > 0)
        {
            // One line: an unknown word says more than the "required command" that follows from it.
            var error = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            context.Error.WriteLine($"aictl: {UsageError(error.Message)} See '{CommandPath(parse.CommandResult)} --help'.");
            return Usage;
        }
        var config = new InvocationConfiguration
        {
            Output = context.Out,
            Error = context.Error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = context.HandleProcessTermination ? TimeSpan.FromSeconds(2) : null,
        };
        try
        {
            return await parse.InvokeAsync(config, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return Interrupted;
        }
        catch (Exception e)
        {
            // Last resort (the command actions catch their own): one line, never a stack trace.
            context.Error.WriteLine($"aictl: unexpected {e.GetType().Name}: {Text.OneLine(e.Message, 300)}");
            return Failed;
        }
    }

    /// <summary>A parse error on one line, ending in a full stop.</summary>
    public static string UsageError(string message)
    {
        var line = System.Text.RegularExpressions.Regex.Replace(message.Trim(), @"\s*[\r\n]+\s*", " ");
        line = Text.OneLine(line, 300);
        return line.EndsWith('.') ? line : line + ".";
    }

    private static string CommandPath(CommandResult? result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            names.Insert(0, c.Command.Name);
        return names.Count == 0 ? "aictl" : string.Join(' ', names);
    }

    /// <summary>The whole command tree, bound to <paramref name="context"/>.</summary>
    /// <remarks>
    /// A plain <see cref="Command"/> named <c>aictl</c> rather than a <see cref="RootCommand"/>, whose name would be the
    /// assembly's (<c>AiSystem.Ctl</c>) in help and usage lines.
    /// </remarks>
    public static Command Build(CtlContext context)
    {
        var g = new GlobalOptions();
        var root = new Command("aictl", "Inspect and manage an AiSystem cluster: members, workers, tasks, journal, logs.");
        root.Options.Add(new System.CommandLine.Help.HelpOption());
        root.Options.Add(new VersionOption());
        root.Options.Add(g.Master);
        root.Options.Add(g.Token);
        root.Options.Add(g.Json);

        var cluster = new Command("cluster", "Akka.NET cluster membership: show, leader, leave, down, down-unreachable, tail.");
        root.Subcommands.Add(cluster);

        var show = new Command("show", "List the cluster members: address | [roles] | status | reachability | version.");
        show.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var (state, body) = await master.GetClusterAsync(ct).ConfigureAwait(false);
            if (p.GetValue(g.Json)) WriteJson(context, body);
            else foreach (var line in ClusterShowFormatter.Format(state)) context.Out.WriteLine(line);
            return Ok;
        }));
        cluster.Subcommands.Add(show);

        var leader = new Command("leader", "Print the leader's address (exit 1 when there is none).");
        leader.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var (state, _) = await master.GetClusterAsync(ct).ConfigureAwait(false);
            var address = string.IsNullOrWhiteSpace(state.Leader) ? null : state.Leader;
            context.Out.WriteLine(p.GetValue(g.Json) ? ApiJson.Serialize(new LeaderOutput(address)) : address is null ? "no leader" : Text.OneLine(address));
            return address is null ? Failed : Ok;
        }));
        cluster.Subcommands.Add(leader);

        cluster.Subcommands.Add(MemberAction(context, g, "leave", "Ask a member to leave the cluster gracefully.",
            a => $"Asked {a} to leave the cluster."));
        cluster.Subcommands.Add(MemberAction(context, g, "down", "Mark a member as down (it is removed without leaving gracefully).",
            a => $"Asked the cluster to down {a}."));

        var downUnreachable = new Command("down-unreachable", "Down every member the cluster sees as unreachable.");
        downUnreachable.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var (state, _) = await master.GetClusterAsync(ct).ConfigureAwait(false);
            var unreachable = state.Members.Where(m => m.IsUnreachable)
                .Select(m => m.Address).OrderBy(a => a, AkkaAddressComparer.Instance).ToList();
            var json = p.GetValue(g.Json);
            var done = new List<MemberActionResponse>();
            var failed = 0;
            foreach (var address in unreachable)
            {
                try
                {
                    var (response, _) = await master.MemberActionAsync("down", address, ct).ConfigureAwait(false);
                    done.Add(response);
                    if (!json) context.Out.WriteLine($"Asked the cluster to down {Text.OneLine(address)} (unreachable).");
                }
                catch (CtlException e)
                {
                    failed++;
                    context.Error.WriteLine("aictl: " + e.Message);
                }
            }
            if (json) context.Out.WriteLine(ApiJson.Serialize(done));
            else if (unreachable.Count == 0) context.Out.WriteLine("No unreachable members.");
            return failed == 0 ? Ok : Failed;
        }));
        cluster.Subcommands.Add(downUnreachable);

        var tail = new Command("tail", "Follow membership events (current members first) until Ctrl+C or the master ends the stream.");
        tail.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var json = p.GetValue(g.Json);
            var zone = context.Time.LocalTimeZone;
            using var events = await master.OpenClusterEventsAsync(ct).ConfigureAwait(false);
            try
            {
                await foreach (var data in ServerSentEvents.ReadDataAsync(events.Reader, ct).ConfigureAwait(false))
                {
                    ClusterEvent e;
                    try { e = ApiJson.ParseEvent(data); }
                    catch (CtlException) { continue; } // an event aictl does not understand: skip it, as logs does
                    context.Out.WriteLine(json ? Text.OneLine(data.Trim()) : ClusterEventFormatter.Format(e, zone));
                    await context.Out.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Ok; // Ctrl+C: the normal way to stop following
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw master.StreamBroken(e);
            }
            return Ok;
        }));
        cluster.Subcommands.Add(tail);

        var workers = new Command("workers", "List the workers the master knows: id, language, host, status, slots, last seen, completed.");
        workers.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var (list, body) = await master.GetWorkersAsync(ct).ConfigureAwait(false);
            if (p.GetValue(g.Json)) WriteJson(context, body);
            else foreach (var line in WorkersFormatter.Format(list, context.Time.GetUtcNow())) context.Out.WriteLine(line);
            return Ok;
        }));
        root.Subcommands.Add(workers);

        var tasks = new Command("tasks", "List queued and in-flight tasks: task, state, worker, attempt, position, age.");
        tasks.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var (list, body) = await master.GetTasksAsync(ct).ConfigureAwait(false);
            if (p.GetValue(g.Json)) WriteJson(context, body);
            else foreach (var line in TasksFormatter.Format(list, context.Time.GetUtcNow())) context.Out.WriteLine(line);
            return Ok;
        }));
        root.Subcommands.Add(tasks);

        var journal = new Command("journal", "Show the master's journal: state, provider, where, last write, failed batches, rows, last error (exit 1 while failing).");
        journal.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var (state, body) = await master.GetJournalAsync(ct).ConfigureAwait(false);
            if (p.GetValue(g.Json)) WriteJson(context, body);
            else foreach (var line in JournalFormatter.Format(state, context.Time.GetUtcNow(), context.Time.LocalTimeZone)) context.Out.WriteLine(line);
            return state.IsFailing ? Failed : Ok;
        }));
        root.Subcommands.Add(journal);

        root.Subcommands.Add(Logs(context, g));
        return root;
    }

    private static Command MemberAction(CtlContext context, GlobalOptions g, string action, string description, Func<string, string> done)
    {
        var address = new Argument<string>("address") { Description = "The member's address, e.g. akka.tcp://ai-system@host:4053 (see 'aictl cluster show')." };
        var command = new Command(action, description) { address };
        command.SetAction(Guard(context, async (p, ct) =>
        {
            using var master = g.Client(p, context);
            var target = p.GetValue(address)?.Trim() ?? "";
            var (response, body) = await master.MemberActionAsync(action, target, ct).ConfigureAwait(false);
            if (p.GetValue(g.Json)) WriteJson(context, body.Trim().Length > 0 ? body : $"{{\"address\":\"{target}\",\"action\":\"{action}\"}}");
            else context.Out.WriteLine(done(Text.OneLine(string.IsNullOrEmpty(response.Address) ? target : response.Address)));
            return Ok;
        }));
        return command;
    }

    private static Command Logs(CtlContext context, GlobalOptions g)
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing until Ctrl+C." };
        var level = new Option<string>("--level") { Description = "Minimum level: debug < info < warning < error.", HelpName = "level" };
        level.AcceptOnlyFromAmong(LogLevels.Names);
        var source = new Option<string>("--source") { Description = "Only lines whose source is this or starts with it (e.g. master, csharp-worker).", HelpName = "source" };
        var duration = new Option<string>("--duration") { Description = "Without -f: how long to listen, e.g. 3s, 500ms, 1m [default: 3s].", HelpName = "time" };
        var broker = new Option<string>("--broker") { Description = $"MQTT broker host:port [default: $AICTL_BROKER, else {Endpoints.DefaultBroker}].", HelpName = "host:port" };
        var user = new Option<string>("--mqtt-user") { Description = "MQTT user name [default: $AICTL_MQTT_USER].", HelpName = "user" };
        var password = new Option<string>("--mqtt-password") { Description = "MQTT password [default: $AICTL_MQTT_PASSWORD].", HelpName = "password" };
        var prefix = new Option<string>("--topic-prefix") { Description = $"First topic level [default: {AiSystem.Messages.Topics.DefaultPrefix}].", HelpName = "prefix" };
        var tls = new Option<bool>("--mqtt-tls") { Description = "Connect to the broker over TLS, checking its certificate against --ca-file (else the system's CAs) [default: $AICTL_MQTT_TLS=true]." };

        var logs = new Command("logs", "Print the log lines master and workers publish on {prefix}/logs (MQTT).")
        {
            follow, level, source, duration, broker, user, password, prefix, tls,
        };
        logs.SetAction(Guard(context, async (p, ct) =>
        {
            var listen = TimeSpan.FromSeconds(3);
            if (p.GetValue(duration) is { } d && !Endpoints.TryParseDuration(d, out listen))
                throw new CtlException($"'{Text.OneLine(d, 50)}' is not a duration; use e.g. --duration 3s, 500ms or 2m.", Usage);
            var filter = new LogFilter(LogLevels.TryParse(p.GetValue(level)) ?? LogLevelRank.Debug, p.GetValue(source) is { Length: > 0 } s ? s : null);
            var (host, port) = Endpoints.ParseBroker(p.GetValue(broker) ?? context.Env("AICTL_BROKER"));
            var json = p.GetValue(g.Json);
            var zone = context.Time.LocalTimeZone;

            await using var reader = new MqttLogReader(host, port,
                p.GetValue(user) ?? context.Env("AICTL_MQTT_USER"),
                p.GetValue(password) ?? context.Env("AICTL_MQTT_PASSWORD"),
                p.GetValue(prefix) is { Length: > 0 } tp ? tp : AiSystem.Messages.Topics.DefaultPrefix,
                p.GetValue(tls) || string.Equals(context.Env("AICTL_MQTT_TLS"), "true", StringComparison.OrdinalIgnoreCase),
                g.CaFilePath(p, context));
            await reader.ConnectAsync(context.BrokerConnectTimeout, ct).ConfigureAwait(false);

            using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (!p.GetValue(follow)) window.CancelAfter(listen);
            try
            {
                await foreach (var line in reader.Lines.ReadAllAsync(window.Token).ConfigureAwait(false))
                {
                    if (!filter.Matches(line)) continue;
                    context.Out.WriteLine(json ? System.Text.Encoding.UTF8.GetString(AiSystem.Messages.WireJson.Serialize(line)) : LogLineFormatter.Format(line, zone));
                    await context.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (window.IsCancellationRequested)
            {
                // the listening window closed, or Ctrl+C: both are the normal end
            }
            catch (ChannelClosedException)
            {
            }
            return Ok;
        }));
        return logs;
    }

    private static void WriteJson(CtlContext context, string body) => context.Out.WriteLine(body.Trim());

    /// <summary>Turns every failure of a command into one <c>aictl: ...</c> line and an exit code.</summary>
    private static Func<ParseResult, CancellationToken, Task<int>> Guard(CtlContext context, Func<ParseResult, CancellationToken, Task<int>> body) =>
        async (parse, ct) =>
        {
            try
            {
                return await body(parse, ct).ConfigureAwait(false);
            }
            catch (CtlException e)
            {
                context.Error.WriteLine("aictl: " + e.Message);
                return e.ExitCode;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Interrupted;
            }
            catch (Exception e)
            {
                context.Error.WriteLine($"aictl: unexpected {e.GetType().Name}: {Text.OneLine(e.Message, 300)}");
                return Failed;
            }
        };

    /// <summary>The options every command takes.</summary>
    private sealed class GlobalOptions
    {
        public readonly Option<string> Master = new("--master")
        {
            Description = $"The master's URL [default: $AICTL_MASTER, else {Endpoints.DefaultMaster}].",
            HelpName = "url",
            Recursive = true,
        };

        public readonly Option<string> Token = new("--token")
        {
            Description = "API token, sent as 'Authorization: Bearer <token>' [default: $AICTL_TOKEN].",
            HelpName = "token",
            Recursive = true,
        };

        public readonly Option<string> CaFile = new("--ca-file")
        {
            Description = "PEM file of the CA that an https:// master's (and a TLS broker's) certificate must chain to [default: $AICTL_CA_FILE; else the system's CAs].",
            HelpName = "file",
            Recursive = true,
        };

        public string? CaFilePath(ParseResult p, CtlContext context) =>
            p.GetValue(CaFile) is { Length: > 0 } file ? file : context.Env("AICTL_CA_FILE");

        private AiSystem.Messages.Tls.TrustedCa? Ca(ParseResult p, CtlContext context)
        {
            if (CaFilePath(p, context) is not { } file) return null;
            try { return AiSystem.Messages.Tls.TrustedCa.Load(file, "--ca-file"); }
            catch (AiSystem.Messages.Tls.TlsSettingException e) { throw new CtlException(e.Message, 2); }
        }

        public readonly Option<bool> Json = new("--json")
        {
            Description = "Print JSON for scripts instead of tables.",
            Recursive = true,
        };

        public MasterClient Client(ParseResult p, CtlContext context)
        {
            var url = Endpoints.ParseMaster(p.GetValue(Master) ?? context.Env("AICTL_MASTER"));
            return new MasterClient(url, p.GetValue(Token) ?? context.Env("AICTL_TOKEN"), context.HttpHandler, context.RequestTimeout, Ca(p, context));
        }
    }
}
