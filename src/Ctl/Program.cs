using AiSystem.Ctl;

return await Cli.RunAsync(args, new CtlContext
{
    Out = Console.Out,
    Error = Console.Error,
    HandleProcessTermination = true,
}).ConfigureAwait(false);
