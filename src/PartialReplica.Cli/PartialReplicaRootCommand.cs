using System.CommandLine;
using PartialReplica.Cli.Commands;

namespace PartialReplica.Cli;

/// <summary>Every verb of <c>partial-replica</c>; tests parse deployment files against it.</summary>
internal sealed class PartialReplicaRootCommand : RootCommand
{
    public PartialReplicaRootCommand()
        : base("partial-replica: a Conjur-style leader feeds many followers; each follower gets every non-secret table by native logical replication and only the secrets its replica sets grant.")
    {
        Add(new SetupCommand());
        Add(new FollowerCommand());
        Add(new ServeCommand());
        Add(new ListenCommand());
        Add(new NotifyCommand());
        Add(new StatusCommand());
        Add(new ExplainCommand());
        Add(new ReplicateCommand());
        Add(new SecretCommand());
        Add(new LoadCommand());
        Add(new DemoCommand());
        Add(new BenchCommand());
        Add(new PolicyCommand());
    }
}
