using PartialReplica.Cli;

return await new PartialReplicaRootCommand().Parse(args).InvokeAsync();
