using AiSystem.Messages.Configuration;
using AiSystem.Worker;

// A worker process: takes tasks from MQTT, asks the model, sends results to the master over gRPC.
var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddSecretFiles();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});
builder.AddAiWorker();
await builder.Build().RunAsync();
