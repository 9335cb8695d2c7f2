using System.CommandLine;
using PartialReplica.Tooling.Bench;
using Spectre.Console;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica bench [--quick] [--json]</c> (SPEC §6).</summary>
internal sealed class BenchCommand : Command
{
    private readonly Option<bool> _quick = new("--quick") { Description = "Small sizes: proves the harness and its correctness checks (used by CI)." };
    private readonly Option<bool> _json = CommonOptions.Json();
    private readonly Option<bool> _p10 = new("--p10") { Description = "Only P10 (gateway scale-out and edge sync), on a leader server of its own." };
    private readonly Option<bool> _p9 = new("--p9") { Description = "Only P9 (Edge paging and count of P1's granted set, beside native COPY)." };
    private readonly Option<bool> _reconcileMemory = new("--reconcile-memory") { Description = "Only the gateway's peak RSS during a full reconcile of 10,000, 100,000 and 1,000,000 granted secrets." };

    public BenchCommand()
        : base("bench", "Start a leader and followers and measure P1–P7 and P10 for the gateway and for native logical replication of the same secrets rows, after verifying the followers exact.")
    {
        Add(_quick);
        Add(_json);
        Add(_p10);
        Add(_p9);
        Add(_reconcileMemory);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var quick = result.GetValue(_quick);
            var json = result.GetValue(_json);
            await using var runner = new BenchRunner(quick ? BenchSizes.Quick : BenchSizes.Full, quick, CommandRunner.Logging.CreateLogger("bench"), quiet: json, onlyP10: result.GetValue(_p10), onlyP9: result.GetValue(_p9));
            var report = result.GetValue(_reconcileMemory) ? await runner.RunReconcileMemoryAsync(cancellationToken) : await runner.RunAsync(cancellationToken);
            if (json)
            {
                Console.WriteLine(report.ToJson());
            }
            else
            {
                if (Console.IsOutputRedirected)
                {
                    // Not a terminal: keep the table readable in logs instead of wrapping at 80 columns.
                    AnsiConsole.Profile.Width = 200;
                }

                foreach (var line in report.Verified)
                {
                    AnsiConsole.MarkupLine($"[green]✓[/] {Markup.Escape(line)}");
                }

                AnsiConsole.Write(report.ToTable());
            }

            return ExitCode.Success;
        }));
    }
}
