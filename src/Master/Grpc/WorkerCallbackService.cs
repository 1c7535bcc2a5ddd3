using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;
using Grpc.Core;

namespace AiSystem.Master.Grpc;

/// <summary>The gRPC edge: workers' results go to the dispatcher, which decides whether they are accepted.</summary>
public sealed class WorkerCallbackService(IRequiredActor<DispatcherActor> dispatcher) : WorkerCallback.WorkerCallbackBase
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    public override async Task<ResultAck> SendResult(TaskResult request, ServerCallContext context)
    {
        // The original field 5 (api_key) is never stored, logged or passed on.
        request.ApiKey = "";
        try
        {
            return await dispatcher.ActorRef.Ask<ResultAck>(new ResultReceived(request), AskTimeout, context.CancellationToken);
        }
        catch (AskTimeoutException)
        {
            throw new RpcException(new global::Grpc.Core.Status(StatusCode.Unavailable, "The master is busy; send the result again."));
        }
    }
}
