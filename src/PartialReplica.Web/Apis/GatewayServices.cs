using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Apis;

/// <summary>What every handler needs, bound with <c>[AsParameters]</c> (as eShop's <c>CatalogServices</c>).</summary>
public sealed class GatewayServices(
    [FromServices] NpgsqlDataSource leader,
    [FromServices] IOptions<GatewayOptions> options,
    [FromServices] ILogger<GatewayServices> logger)
{
    public NpgsqlDataSource Leader { get; } = leader;

    public GatewayOptions Options { get; } = options.Value;

    public ILogger Logger { get; } = logger;
}
