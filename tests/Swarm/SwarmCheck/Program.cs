using AiSystem.SwarmCheck;

// swarm-check ask --url http://127.0.0.1:8888 --questions 20 [--sessions 4] [--label step4] [--ready-file F] [--timeout 300]
//   Opens the sessions, asks the questions, and waits until every one is answered. Questions survive the master
//   restarting: each browser reconnects to its session and counts answers delivered in its history. Fails when a
//   question is lost, failed, or answered twice, or when a session resumed afterwards lacks any of them.
// swarm-check history --url URL --sessions-in F
//   Checks that sessions written by `ask --sessions-out F` resume with every question and answer in their history.
// The last line is one JSON object with the counts.
try
{
    var options = CheckOptions.Parse(args);
    var run = new AskRun(options);
    return await run.ExecuteAsync();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"swarm-check: {e.Message}");
    return 2;
}
