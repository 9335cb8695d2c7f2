using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Refuses to start a gateway whose key does not decrypt the leader's signing keys (another gateway made them
/// with a different key): it could neither sign nor verify. A leader that cannot be reached yet does not stop
/// the start; <c>/health/ready</c> reports it and the first use checks the key again.
/// </summary>
internal sealed class SigningKeyCheck(SigningKeyRing keys, ILogger<SigningKeyCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await keys.CheckGatewayKeyAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            GatewayLog.SigningKeyCheckSkipped(logger, e.GetType().Name, e.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
