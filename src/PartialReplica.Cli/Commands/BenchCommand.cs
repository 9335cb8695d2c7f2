using System.CommandLine;
using PartialReplica.Tooling.Bench;
using Spectre.Console;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica bench [--quick] [--json] [--p8 [--variables N] [--followers N] | --p9 | --p10]</c> (SPEC §6).</summary>
internal sealed class BenchCommand : Command
{
    private readonly Option<bool> _quick = new("--quick") { Description = "Small sizes: proves the harness and its correctness checks (used by CI)." };
    private readonly Option<bool> _json = CommonOptions.Json();
    private readonly Option<bool> _p10 = new("--p10") { Description = "Only P10 (gateway scale-out and edge sync), on a leader server of its own." };
    private readonly Option<bool> _p9 = new("--p9") { Description = "Only P9 (Edge paging and count of P1's granted set, beside native COPY)." };
    private readonly Option<bool> _p8 = new("--p8") { Description = "Only P8 (fan-out: 1,000,000 variables, 20 followers; initial sync of all beside native, steady state at 5, 10 and 20 followers)." };
    private readonly Option<int?> _variables = new("--variables") { Description = "With --p8: how many variables (default 1,000,000)." };
    private readonly Option<int?> _followers = new("--followers") { Description = "With --p8: how many followers (default 20); steady runs serve a quarter, a half and all of them." };
    private readonly Option<bool> _p1 = new("--p1") { Description = "Only P1 (initial replicate), with --p3 also P3." };
    private readonly Option<bool> _p3 = new("--p3") { Description = "Only P3 (commit → visible) and the P2 burst that sets its followers up, with --p1 also P1." };
    private readonly Option<bool> _reconcileMemory = new("--reconcile-memory") { Description = "Only the gateway's peak RSS during a full reconcile of 10,000, 100,000 and 1,000,000 granted secrets." };

    public BenchCommand()
        : base("bench", "Start a leader and followers and measure P1–P7, P9 and P10 (P8 with --p8, or small with --quick) for the gateway and for native logical replication of the same secrets rows, after verifying the followers exact.")
    {
        Add(_quick);
        Add(_json);
        Add(_p10);
        Add(_p9);
        Add(_p8);
        Add(_variables);
        Add(_followers);
        Add(_p1);
        Add(_p3);
        Add(_reconcileMemory);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var quick = result.GetValue(_quick);
            var json = result.GetValue(_json);
            var p8 = result.GetValue(_p8);
            var sizes = quick ? BenchSizes.Quick : BenchSizes.Full;
            var (variables, followers) = (result.GetValue(_variables), result.GetValue(_followers));
            if (new[] { p8, result.GetValue(_p9), result.GetValue(_p10), result.GetValue(_p1) || result.GetValue(_p3), result.GetValue(_reconcileMemory) }.Count(only => only) > 1)
            {
                throw new PartialReplicaException("--p8, --p9, --p10, --p1/--p3 and --reconcile-memory each run alone; give at most one of them.");
            }

            if ((variables is not null || followers is not null) && !p8)
            {
                throw new PartialReplicaException("--variables and --followers size P8; they need --p8.");
            }

            if (variables is < 1_000 or > 10_000_000)
            {
                throw new PartialReplicaException("--variables must be between 1000 and 10000000.");
            }

            if (followers is < 2 or > 100)
            {
                throw new PartialReplicaException("--followers must be between 2 and 100.");
            }

            sizes = sizes with { P8 = sizes.P8 with { Variables = variables ?? sizes.P8.Variables, Followers = followers ?? sizes.P8.Followers } };
            await using var runner = new BenchRunner(sizes, quick, CommandRunner.Logging.CreateLogger("bench"), quiet: json,
                onlyP10: result.GetValue(_p10), onlyP9: result.GetValue(_p9), onlyP8: p8, onlyP1: result.GetValue(_p1), onlyP3: result.GetValue(_p3));
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
