using PartialReplica.Authn;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// The gateway key every gateway, CLI child and signing-key ring of this test run shares (SPEC S5), as the
/// gateways of one leader do. Tests about a missing or wrong key make their own.
/// </summary>
internal static class TestGatewayKey
{
    public static readonly string Base64 = SharedKeys.GatewayKeyBase64;

    public static GatewayKey Key { get; } = GatewayKey.FromBase64(Base64);
}
