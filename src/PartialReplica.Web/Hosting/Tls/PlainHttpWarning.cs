using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Hosting.Tls;

/// <summary>
/// Warns once at start when a host serves plain HTTP on an address other machines can reach: tokens and
/// pushed ciphertext would cross the network unencrypted (SPEC S5).
/// </summary>
internal sealed class PlainHttpWarning(IServer server, IHostApplicationLifetime lifetime, ILogger<PlainHttpWarning> logger) : IHostedService
{
    /// <summary>The addresses among <paramref name="addresses"/> (Kestrel's bound URLs) that are plain HTTP beyond loopback.</summary>
    public static IReadOnlyList<string> ExposedPlainHttp(IEnumerable<string> addresses) =>
        addresses.Where(a => IsPlainHttp(a) && !IsLoopback(a)).ToList();

    /// <summary>Logs the warning for each exposed address; called once the server has bound its addresses.</summary>
    public static void WarnIfExposed(IEnumerable<string> addresses, ILogger logger)
    {
        foreach (var address in ExposedPlainHttp(addresses))
        {
            LogMessages.PlainHttpBeyondLoopback(logger, address);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
            WarnIfExposed(server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [], logger));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static bool IsPlainHttp(string address) => address.StartsWith("http://", StringComparison.OrdinalIgnoreCase);

    private static bool IsLoopback(string address)
    {
        // Kestrel writes wildcard binds as http://+:80, http://*:80, http://0.0.0.0:80 or http://[::]:80.
        var host = address["http://".Length..];
        host = host.StartsWith('[') ? host[..(host.IndexOf(']', StringComparison.Ordinal) + 1)] : host.Split(':', '/')[0];
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }
}

/// <summary>Registers <see cref="PlainHttpWarning"/>.</summary>
internal static class PlainHttpWarningExtensions
{
    public static IServiceCollection AddPlainHttpWarning(this IServiceCollection services) =>
        services.AddHostedService<PlainHttpWarning>();
}
