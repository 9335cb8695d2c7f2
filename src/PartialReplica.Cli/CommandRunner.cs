using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Cli;

/// <summary>
/// Runs a verb's body and turns failures into one line on stderr and a documented exit code. Messages
/// come from our own exceptions or the server's error text; neither carries a secret value.
/// </summary>
internal static class CommandRunner
{
    public static ILoggerFactory Logging { get; } = LoggerFactory.Create(builder => builder
        .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
        .SetMinimumLevel(LogLevel.Warning));

    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (PartialReplicaException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return ExitCode.BadInput;
        }
        catch (OptionsValidationException e)
        {
            // A web host's settings refused at start (ValidateOnStart): each failure names the setting and how to set
            // it; all on one line, without the stack.
            await Console.Error.WriteLineAsync($"error: {string.Join(" ", e.Failures).ReplaceLineEndings(" ")}");
            return ExitCode.BadInput;
        }
        catch (InvalidOperationException e) when (HostSettings.Unreadable(e) is { } refusal)
        {
            await Console.Error.WriteLineAsync($"error: {refusal}");
            return ExitCode.BadInput;
        }
        catch (NpgsqlException e) when (e.InnerException is SocketException or TimeoutException || e is NpgsqlException { IsTransient: true } && e is not PostgresException)
        {
            await Console.Error.WriteLineAsync(
                $"error: cannot reach the database ({e.Message}). Check the connection string (--leader/--db or the PARTIALREPLICA_* env vars) and that the server is running.");
            return ExitCode.Unreachable;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName)
        {
            await Console.Error.WriteLineAsync($"error: the database refused the connection: {e.MessageText}. Check the connection string.");
            return ExitCode.Unreachable;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return ExitCode.Failure;
        }
        catch (Exception e) when (e is NpgsqlException or HttpRequestException or IOException or InvalidOperationException)
        {
            // Unexpected: one line with the type and message (server details are redacted by Npgsql).
            await Console.Error.WriteLineAsync($"error: unexpected failure ({e.GetType().Name}): {e.Message}");
            return ExitCode.Failure;
        }
    }
}
