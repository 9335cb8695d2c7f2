namespace PartialReplica.Tooling.Clusters;

/// <summary>How a throwaway cluster is configured.</summary>
public sealed record ClusterOptions
{
    /// <summary>A label for the data folder and logs (leader, follower-1, ...).</summary>
    public string Name { get; init; } = "pg";

    /// <summary>
    /// Whether commits are flushed to disk. Tests turn it off for speed; benchmarks keep it on so commit
    /// rates mean what they mean in production.
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>
    /// When set, the server also accepts TLS (<c>ssl = on</c>) with this certificate and key; plain connections still
    /// work unless the client asks for TLS. Off by default; the shared template is the same either way.
    /// </summary>
    public ClusterTls? Tls { get; init; }

    /// <summary>Extra <c>postgresql.conf</c> settings.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}

/// <summary>A server certificate (chain) and its private key, both PEM text.</summary>
public sealed record ClusterTls(string CertificatePem, string PrivateKeyPem);
