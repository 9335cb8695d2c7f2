using Microsoft.Extensions.Options;
using PartialReplica.Web.Hosting;
using StackExchange.Redis;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// Checks <c>Gateway:Redis</c> at start: a StackExchange.Redis configuration string naming at least one server. The
/// refusal is one sentence that never quotes the value (it may hold a password).
/// </summary>
internal sealed class SharedStateOptionsValidator : IValidateOptions<SharedStateOptions>
{
    private static readonly Setting Redis = new("Gateway:Redis", SharedStateOptions.EnvironmentVariable);

    public ValidateOptionsResult Validate(string? name, SharedStateOptions options)
    {
        if (!options.Shared)
        {
            return ValidateOptionsResult.Success;
        }

        return RedisLink.TryParse(options.Redis!) is null
            ? ValidateOptionsResult.Fail(Redis.Refuse(
                "The Redis configuration is not a StackExchange.Redis configuration string naming a server " +
                "(host:port, then options such as password=… or ssl=true, separated by commas)"))
            : ValidateOptionsResult.Success;
    }
}
