using System.Diagnostics;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// Runs the real partial-replica binary built beside the tests, with the test run's gateway key and data key unless
/// <c>environment</c> names <c>PARTIALREPLICA_GATEWAY_KEY</c> or <c>CONJUR_DATA_KEY</c> (an empty value leaves it unset).
/// </summary>
internal static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Task<Result> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        RunAsync(TimeSpan.FromMinutes(8), environment, arguments);

    /// <summary>As above, allowed <paramref name="timeout"/> to finish (the quick bench: its nine workloads on a loaded machine).</summary>
    public static async Task<Result> RunAsync(TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "partial-replica.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var name in new[] { "PARTIALREPLICA_LEADER", "PARTIALREPLICA_FOLLOWER_DB", "PARTIALREPLICA_GATEWAY_URL", "PARTIALREPLICA_ACCOUNT", "CONJUR_DATA_KEY", "PARTIALREPLICA_API_KEY", "PARTIALREPLICA_GATEWAY_KEY" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["PARTIALREPLICA_GATEWAY_KEY"] = TestGatewayKey.Base64;
        info.Environment["CONJUR_DATA_KEY"] = TestDataKey.Base64;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value.Length == 0 ? null : value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(deadline.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
