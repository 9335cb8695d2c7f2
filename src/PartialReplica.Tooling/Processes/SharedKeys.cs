using PartialReplica.Authn;
using PartialReplica.Conjur;

namespace PartialReplica.Tooling.Processes;

/// <summary>
/// The gateway key and the data key (<c>CONJUR_DATA_KEY</c>) that every gateway this process starts shares, as one
/// Conjur deployment's gateways do: made at first use, thrown away with the process.
/// </summary>
internal static class SharedKeys
{
    public static readonly string GatewayKeyBase64 = GatewayKey.GenerateBase64();

    public static readonly string DataKeyBase64 = Slosilo.GenerateBase64Key();
}
