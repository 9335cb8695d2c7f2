using System.CommandLine;
using PartialReplica.Cli.Demo;

namespace PartialReplica.Cli.Commands;

/// <summary><c>partial-replica demo</c> (F10).</summary>
internal sealed class DemoCommand : Command
{
    private readonly Option<int> _samples = new("--samples") { Description = "Sample variables to load into replica set east.", DefaultValueFactory = _ => 500 };

    public DemoCommand()
        : base("demo", "Throwaway leader + two followers, gateway and agents: shows partial replication converge, a change and a revocation, then proves each follower holds exactly its granted set. Exit 0 only if it all held.")
    {
        Add(_samples);
        SetAction((result, cancellationToken) => CommandRunner.RunAsync(() =>
            new DemoRunner().RunAsync(result.GetValue(_samples), cancellationToken)));
    }
}
