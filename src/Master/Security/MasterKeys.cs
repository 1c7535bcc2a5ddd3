using System.Buffers.Text;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using AiSystem.Master.Persistence;

namespace AiSystem.Master.Security;

/// <summary>
/// The masters' shared secret, and the two proofs made from it (HMAC-SHA256, compared in constant time):
/// <list type="bullet">
/// <item>a session's <b>resume token</b>: only the browser that was given it can resume that session;</item>
/// <item>an assignment's <b>session alias</b>: the <c>session_id</c> a task carries on MQTT instead of the real one.
/// Only the worker the task was published to learns it, and a result or streamed chunk must echo it: knowing a task's
/// id and worker is not enough to answer it. The original workers echo <c>session_id</c> unchanged, so it works
/// for them as it does for ours; and the real session id never travels on the broker.</item>
/// </list>
/// Both are derived, not stored: any master with the secret checks them, also after a restart or a failover.
/// </summary>
public sealed class MasterKeys
{
    private readonly byte[] _resume;
    private readonly byte[] _assign;

    public MasterKeys(ReadOnlySpan<byte> secret)
    {
        if (secret.Length < 16) throw new ArgumentException("The masters' secret needs at least 16 bytes.", nameof(secret));
        // One key per purpose: a resume token is never also a valid alias.
        _resume = HMACSHA256.HashData(secret, "aisystem resume token v1"u8);
        _assign = HMACSHA256.HashData(secret, "aisystem assignment alias v1"u8);
    }

    /// <summary>A fresh random secret (unit tests; a master always loads the shared one, <see cref="MasterKeyStore"/>).</summary>
    public static MasterKeys Random() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>The token that proves ownership of <paramref name="sessionId"/> (43 characters, base64url).</summary>
    public string ResumeToken(string sessionId) => Base64Url.EncodeToString(HMACSHA256.HashData(_resume, Encoding.UTF8.GetBytes(sessionId)));

    public bool IsResumeToken(string sessionId, string? token) =>
        !string.IsNullOrEmpty(token) && FixedEquals(ResumeToken(sessionId), token);

    /// <summary>
    /// The <c>session_id</c> that the task <paramref name="taskId"/> carries to <paramref name="workerId"/>: shaped like
    /// a session id (a UUID, so that no worker is surprised), 128 bits that nobody without the secret can compute.
    /// </summary>
    public string SessionAlias(string taskId, string workerId)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(_assign, Encoding.UTF8.GetBytes(taskId + "\n" + workerId), hash);
        return new Guid(hash[..16]).ToString("D");
    }

    public bool IsSessionAlias(string taskId, string workerId, string? alias) =>
        !string.IsNullOrEmpty(alias) && FixedEquals(SessionAlias(taskId, workerId), alias);

    private static bool FixedEquals(string expected, string given) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(given));
}

/// <summary>
/// Where the secret comes from: <c>Security__Secret</c> when the operator sets it (in Swarm, a Docker secret), else
/// the journal's own database, where the first master to start writes a random one and every later master (and
/// every restart) reads it. Masters of one cluster share their journal, so they share the secret without any setting.
/// </summary>
public static class MasterKeyStore
{
    public const string Table = "aisystem_secret";
    private const string Name = "masters";

    public static MasterKeys Load(string? configured, JournalConnection journal, Action<string> warn, TimeSpan patience)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var bytes = Encoding.UTF8.GetBytes(configured.Trim());
            if (bytes.Length < 16) throw new InvalidOperationException("Security__Secret must be at least 16 characters long.");
            return new MasterKeys(bytes);
        }
        var deadline = DateTimeOffset.UtcNow + patience;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new MasterKeys(Convert.FromBase64String(ReadOrCreate(journal)));
            }
            catch (Exception e) when (e is DbException or InvalidOperationException && DateTimeOffset.UtcNow < deadline)
            {
                warn($"Could not read the masters' secret from the {journal} (attempt {attempt}): {JournalErrorText.Clean(e.Message, journal)}; trying again");
                Thread.Sleep(TimeSpan.FromSeconds(1)); // start-up only, before anything else runs
            }
        }
    }

    private static string ReadOrCreate(JournalConnection journal)
    {
        using var connection = journal.Open();
        Execute(connection, $"CREATE TABLE IF NOT EXISTS {Table} (name VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(256) NOT NULL)");
        using (var insert = connection.CreateCommand())
        {
            // Two masters starting at once: the first insert wins, both read the same row.
            insert.CommandText = $"INSERT INTO {Table} (name, value) VALUES (@name, @value) ON CONFLICT (name) DO NOTHING";
            Parameter(insert, "@name", Name);
            Parameter(insert, "@value", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            insert.ExecuteNonQuery();
        }
        using var select = connection.CreateCommand();
        select.CommandText = $"SELECT value FROM {Table} WHERE name = @name";
        Parameter(select, "@name", Name);
        return select.ExecuteScalar() as string ?? throw new InvalidOperationException("the secret row is missing after its insert");
    }

    private static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void Parameter(DbCommand command, string name, string value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
