using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AiSystem.Messages;
using AiSystem.Messages.Configuration;

namespace AiSystem.Master.Mqtt;

/// <summary>
/// Who may do what on the embedded broker (issue 14). A client's identity is its MQTT client id: it may read only its
/// own task topic and the logs, announce only itself, and never publish a task (only the master injects those).
/// Plain decisions, no MQTTnet types, so they are tested without a broker.
/// </summary>
public sealed class BrokerAccessPolicy(Topics topics, string? username, string? password, bool allowAnonymousAnywhere)
{
    public enum Connect { Accept, BadCredentials, NotAuthorized }

    public enum Publish { Allow, Refuse, ForgedIdentity }

    private readonly string _workersPrefix = $"{topics.Prefix}/workers/";

    public bool RequiresCredentials => !string.IsNullOrEmpty(username);

    /// <summary>Credentials when configured (compared in constant time); anonymous only from loopback unless allowed everywhere.</summary>
    public Connect CanConnect(string? user, string? pass, IPAddress? remote)
    {
        if (!string.IsNullOrEmpty(user) || !string.IsNullOrEmpty(pass))
        {
            if (!RequiresCredentials) return Connect.BadCredentials; // nothing to check them against
            return SameSecret(user, username) & SameSecret(pass, password) ? Connect.Accept : Connect.BadCredentials;
        }
        return allowAnonymousAnywhere || BindAddress.IsLoopback(remote) ? Connect.Accept : Connect.NotAuthorized;
    }

    /// <summary>Only <c>{prefix}/workers/{clientId}/tasks</c>, <c>…/{clientId}/cancel</c> and <c>{prefix}/logs</c>, no wildcards.</summary>
    public bool CanSubscribe(string clientId, string filter) =>
        filter == topics.Logs || (IsValidId(clientId) && (filter == topics.TasksFor(clientId) || filter == topics.CancelsFor(clientId)));

    /// <summary>
    /// Announcements must name the publisher itself (<c>worker_id</c> = client id); tasks come only from the master;
    /// logs are open. Anything else under the prefix is refused; other topics are none of the system's business.
    /// </summary>
    public Publish CanPublish(string clientId, string topic, ReadOnlySequence<byte> payload, out string? claimedId)
    {
        claimedId = null;
        if (topic == topics.Register || topic == topics.Status || topic == topics.Heartbeat)
        {
            claimedId = ReadWorkerId(payload);
            // Without a readable worker_id the bridge would drop it as malformed anyway: nobody gets to see it.
            return claimedId is null ? Publish.Refuse : claimedId == clientId ? Publish.Allow : Publish.ForgedIdentity;
        }
        if (topic == topics.Logs) return Publish.Allow;
        if (topic.StartsWith(_workersPrefix, StringComparison.Ordinal)) return Publish.Refuse; // tasks and the like
        return Publish.Allow;
    }

    private static bool IsValidId(string id) =>
        id.Length is > 0 and <= WireJson.MaxWorkerIdLength && !id.Any(c => c is '/' or '+' or '#' || char.IsControl(c) || char.IsWhiteSpace(c));

    private static bool SameSecret(string? given, string? expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given ?? ""), Encoding.UTF8.GetBytes(expected ?? ""));

    /// <summary>The top-level <c>worker_id</c> string, or null when the payload is not a JSON object carrying one.</summary>
    private static string? ReadWorkerId(ReadOnlySequence<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            string? found = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("worker_id"u8);
                if (!reader.Read()) return null;
                if (isId)
                {
                    if (reader.TokenType != JsonTokenType.String) return null;
                    found = reader.GetString(); // the last one wins, as in the deserializer
                }
                else
                {
                    reader.Skip();
                }
            }
            return found;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
