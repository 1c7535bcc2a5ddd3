using System.Security.Cryptography;
using System.Text;

namespace AiSystem.Master.Api;

/// <summary>The <c>Admin</c> section: when <c>Admin__Token</c> is set, <c>/api</c> needs <c>Authorization: Bearer &lt;token&gt;</c>.</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";
    public string Token { get; set; } = "";
}

/// <summary>Decides whether an <c>Authorization</c> header carries the admin token (compared in constant time).</summary>
public static class AdminToken
{
    public static bool Allows(string configuredToken, string? authorizationHeader)
    {
        if (string.IsNullOrEmpty(configuredToken)) return true;
        const string scheme = "Bearer ";
        if (authorizationHeader is null || !authorizationHeader.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var given = Encoding.UTF8.GetBytes(authorizationHeader[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(configuredToken));
    }
}
