
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.Cli.Commands;

/// <summary>
/// The HTTP client through which the verbs that act as the gateway (<c>listen</c>, <c>replicate</c>, <c>status</c>)
/// reach agents: with <c>PARTIALREPLICA_AGENT_CA</c> set it trusts only that CA for agents served over HTTPS, as the
/// gateway does with <c>Gateway:AgentCa</c>; otherwise the system's trust store.
/// </summary>
internal static class AgentHttp
{
    public const string CaVariable = "PARTIALREPLICA_AGENT_CA";

    public static HttpClient Create(TimeSpan timeout)
    {
        var path = Environment.GetEnvironmentVariable(CaVariable);
        var handler = string.IsNullOrEmpty(path) ? new SocketsHttpHandler() : CertificateAuthority.Load(path, CaVariable).CreateHandler();
        return new HttpClient(handler) { Timeout = timeout };
    }
}
