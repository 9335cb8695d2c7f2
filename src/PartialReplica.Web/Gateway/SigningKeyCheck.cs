using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Refuses to start a gateway whose key does not decrypt the leader's signing keys (another gateway made them
/// with a different key): it could neither sign nor verify. A leader that cannot be reached yet does not stop
/// the start; <c>/health/ready</c> reports it and the first use checks the key again. <c>serve gateway</c> runs
/// the check before starting the host (see <see cref="GatewayApplication.CheckGatewayKeyAsync"/>), since a
/// hosted service that fails is logged by the host with its stack trace, and the operator needs one line.
/// </summary>
internal sealed class SigningKeyCheck(SigningKeyRing keys, ILogger<SigningKeyCheck> logger) : IHostedService
{
    private volatile bool _passed;

    public Task StartAsync(CancellationToken cancellationToken) => _passed ? Task.CompletedTask : CheckAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Throws a <see cref="PartialReplicaException"/> when the gateway key does not match.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await keys.CheckGatewayKeyAsync(cancellationToken);
            _passed = true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            LogMessages.SigningKeyCheckSkipped(logger, e);
        }
    }
}
