using AiSystem.SwarmCheck;

// swarm-check ask --url https://127.0.0.1:8888 --ca-file ca.crt --questions 20 [--sessions 4] [--label step4] [--ready-file F] [--timeout 300]
//   Opens the sessions, asks the questions, and waits until every one is answered. Questions survive the master
//   restarting: each browser reconnects to its session and counts answers delivered in its history. Fails when a
//   question is lost, failed, or answered twice, or when a session resumed afterwards lacks any of them.
// swarm-check history --url URL --ca-file F --sessions-in F
//   Checks that sessions written by `ask --sessions-out F` resume with every question and answer in their history.
//   The last line of both is one JSON object with the counts.
// swarm-check web-tls --host H --port P --ca-file F            HTTPS only on the web port (WebTlsCheck)
// swarm-check mqtt --host H --port P --ca-file F --master-password-file F --worker-password-file F --max-bytes N
//                                                            the broker's TLS, roles, ACL and size limit (MqttCheck)
// swarm-check akka-tls --host H --port P --ca-file F           Akka remoting speaks mutual TLS (AkkaTlsCheck)
//   One "ok"/"FAIL" line per expectation; exit code 1 when any failed.
try
{
    return args.FirstOrDefault() switch
    {
        "web-tls" => await WebTlsCheck.RunAsync(new CheckArgs(args)),
        "mqtt" => await MqttCheck.RunAsync(new CheckArgs(args)),
        "akka-tls" => await AkkaTlsCheck.RunAsync(new CheckArgs(args)),
        _ => await new AskRun(CheckOptions.Parse(args)).ExecuteAsync(),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"swarm-check: {e.Message}");
    return 2;
}
