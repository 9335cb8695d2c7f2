using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Conjur;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>What every handler needs, bound with <c>[AsParameters]</c> (as eShop's <c>CatalogServices</c>).</summary>
internal sealed class GatewayServices(
    [FromServices] NpgsqlDataSource leader,
    [FromServices] IOptions<GatewayOptions> gateway,
    [FromServices] ILogger<GatewayServices> logger,
    [FromServices] Slosilo dataKey)
{
    public NpgsqlDataSource Leader { get; } = leader;

    public IOptions<GatewayOptions> Gateway { get; } = gateway;

    public ILogger<GatewayServices> Logger { get; } = logger;

    /// <summary>The data key, for API keys only (see <see cref="GatewayOptions.DataKey"/>).</summary>
    public Slosilo DataKey { get; } = dataKey;

    public GatewayOptions Options => Gateway.Value;
}
