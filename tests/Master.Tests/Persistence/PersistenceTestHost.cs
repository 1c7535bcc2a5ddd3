using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiSystem.Master.Tests.Persistence;

/// <summary>
/// An actor system with the journal wired exactly as the master wires it (WithAiPersistence, AddJournalServices),
/// in a generic host of its own; disposing it stops the actor system and with it the journal's writer.
/// </summary>
public sealed class PersistenceTestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private PersistenceTestHost(IHost host) => _host = host;

    public ActorSystem Sys => _host.Services.GetRequiredService<ActorSystem>();
    public JournalHealth Health => _host.Services.GetRequiredService<JournalHealth>();
    public JournalIndex Index => _host.Services.GetRequiredService<JournalIndex>();
    public JournalDatabase Database => SqlPersistence.Get(Sys).Database;
    public ConcurrentQueue<object> Notes { get; } = new();

    public static readonly string ThrowingSerializerHocon = $$"""
        akka.actor.serializers.throwing = "{{typeof(ThrowingSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings { "{{typeof(Unserializable).AssemblyQualifiedName}}" = throwing }
        """;

    public static async Task<PersistenceTestHost> StartAsync(JournalConnection connection)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddJournalServices(connection);
        builder.Services.AddAkka("journal-test", b => b
            .AddHocon("akka.loglevel = ERROR\n" + ThrowingSerializerHocon, HoconAddMode.Prepend)
            .WithAiPersistence(connection));
        var host = builder.Build();
        await host.StartAsync();
        return new PersistenceTestHost(host);
    }

    public IActorRef Actor(string persistenceId, Akka.Persistence.Recovery? recovery = null) =>
        Sys.ActorOf(JournalTestActor.Props(persistenceId, Notes, recovery));

    public static async Task<T> AskAsync<T>(IActorRef actor, object message) =>
        await actor.Ask<T>(message, TimeSpan.FromSeconds(30));

    public static Task<ActorState> StateAsync(IActorRef actor) => AskAsync<ActorState>(actor, GetState.Instance);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>Waiting in tests: poll until a deadline, never a fixed sleep.</summary>
public static class Eventually
{
    public static async Task<T> FindAsync<T>(ConcurrentQueue<object> notes, TimeSpan timeout, string what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (notes.OfType<T>().FirstOrDefault() is { } found) return found;
            await Task.Delay(20);
        }
        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}; notes: {string.Join(", ", notes.Select(n => n.GetType().Name))}.");
    }

    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            await Task.Delay(20);
        }
    }
}
