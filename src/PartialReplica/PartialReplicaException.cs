namespace PartialReplica;

/// <summary>
/// An error whose message is meant for the operator: it says what was wrong and what to do, and never
/// carries a secret value. The CLI prints it as one line; the HTTP edges map it to a 4xx.
/// </summary>
public sealed class PartialReplicaException : Exception
{
    public PartialReplicaException(string message) : base(message) { }

    public PartialReplicaException(string message, Exception innerException) : base(message, innerException) { }

    public PartialReplicaException() { }
}
