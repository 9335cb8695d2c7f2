using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>Real Kestrel hosts on free loopback ports: the gateway and follower agents.</summary>
internal static class WebHosts
{
    public static async Task<(WebApplication App, string Url)> StartGatewayAsync(string leader, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = leader,
            ["Gateway:GatewayKey"] = TestGatewayKey.Base64,
            ["Gateway:DataKey"] = TestDataKey.Base64,
            ["urls"] = "http://127.0.0.1:0",
            ["Dispatch:PollInterval"] = "00:00:00.500",
            ["Dispatch:FollowersRefreshInterval"] = "00:00:00.200",
            ["Dispatch:TakeoverInterval"] = "00:00:00.200",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var app = GatewayApplication.Build([], settings);
        await app.StartAsync();
        return (app, Address(app));
    }

    /// <summary>Starts an agent on <paramref name="url"/> (a free port when not given; the same one to restart it).</summary>
    public static async Task<(WebApplication App, string Url)> StartAgentAsync(
        string name, string followerDb, string gatewayUrl, IReadOnlyDictionary<string, string?>? extra = null, string url = "http://127.0.0.1:0")
    {
        var settings = new Dictionary<string, string?>
        {
            ["Agent:Name"] = name,
            ["Agent:Database"] = followerDb,
            ["Agent:GatewayUrl"] = gatewayUrl,
            ["urls"] = url,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var app = AgentApplication.Build([], settings);
        await app.StartAsync();
        return (app, Address(app));
    }

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    /// <summary>Settings that make a host serve HTTPS on a free loopback port with the PEM certificate at <paramref name="certificatePath"/>.</summary>
    public static Dictionary<string, string?> Https(string certificatePath, string keyPath) => new()
    {
        ["urls"] = "https://127.0.0.1:0",
        ["Kestrel:Certificates:Default:Path"] = certificatePath,
        ["Kestrel:Certificates:Default:KeyPath"] = keyPath,
    };
}
