
using PartialReplica.Conjur;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// The data key (<c>CONJUR_DATA_KEY</c>) every leader setup, follower init, policy load, gateway and CLI child of this
/// test run shares, as one Conjur deployment does: API keys written with it are the ones gateways open. Tests about a
/// missing or wrong key, and tests of secret values, make their own.
/// </summary>
internal static class TestDataKey
{
    public static readonly string Base64 = SharedKeys.DataKeyBase64;

    public static Slosilo Key { get; } = Slosilo.FromBase64Key(Base64);
}
