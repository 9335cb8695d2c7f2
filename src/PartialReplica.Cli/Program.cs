using System.CommandLine;
using PartialReplica.Cli.Commands;

var root = new RootCommand("partial-replica: a Conjur-style leader feeds many followers; each follower gets every non-secret table by native logical replication and only the secrets its replica sets grant.")
{
    new SetupCommand(),
    new FollowerCommand(),
    new ServeCommand(),
    new ListenCommand(),
    new NotifyCommand(),
    new StatusCommand(),
    new ReplicateCommand(),
    new SecretCommand(),
    new LoadCommand(),
    new DemoCommand(),
    new BenchCommand(),
};

return await root.Parse(args).InvokeAsync();
