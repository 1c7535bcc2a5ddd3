using AiSystem.Master.Persistence;
using AiSystem.Master.Security;

namespace AiSystem.Master.Tests;

public class MasterKeysTests
{
    [Fact]
    public void A_resume_token_opens_only_its_own_session_and_only_with_the_same_secret()
    {
        var keys = MasterKeys.Random();
        var token = keys.ResumeToken("session-a");
        Assert.True(keys.IsResumeToken("session-a", token));
        Assert.False(keys.IsResumeToken("session-b", token));
        Assert.False(keys.IsResumeToken("session-a", ""));
        Assert.False(keys.IsResumeToken("session-a", null));
        Assert.False(keys.IsResumeToken("session-a", token[..^1]));
        Assert.False(MasterKeys.Random().IsResumeToken("session-a", token)); // another cluster's secret
    }

    [Fact]
    public void An_alias_looks_like_a_session_id_and_belongs_to_one_task_on_one_worker()
    {
        var keys = MasterKeys.Random();
        var alias = keys.SessionAlias("t1", "w1");
        Assert.True(Guid.TryParseExact(alias, "D", out _));
        Assert.Equal(alias, keys.SessionAlias("t1", "w1")); // derived: every master computes the same
        Assert.True(keys.IsSessionAlias("t1", "w1", alias));
        Assert.False(keys.IsSessionAlias("t1", "w2", alias));
        Assert.False(keys.IsSessionAlias("t2", "w1", alias));
        Assert.NotEqual(alias, keys.SessionAlias("t1\nw", "1")); // the two ids cannot be shifted into each other
        Assert.NotEqual(keys.ResumeToken("t1"), alias);
    }

    [Fact]
    public void Masters_on_one_journal_share_one_secret_and_a_configured_one_wins()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("aisystem-keys-").FullName, "journal.db");
        var journal = new JournalConnection(JournalProvider.Sqlite, $"Data Source={file}");
        var first = MasterKeyStore.Load(null, journal, _ => { }, TimeSpan.FromSeconds(5));
        var second = MasterKeyStore.Load(null, journal, _ => { }, TimeSpan.FromSeconds(5));
        Assert.Equal(first.ResumeToken("s"), second.ResumeToken("s"));

        var configured = MasterKeyStore.Load("a secret of the operator's own", journal, _ => { }, TimeSpan.FromSeconds(5));
        Assert.NotEqual(first.ResumeToken("s"), configured.ResumeToken("s"));
        Assert.Throws<InvalidOperationException>(() => MasterKeyStore.Load("short", journal, _ => { }, TimeSpan.FromSeconds(5)));
    }
}
