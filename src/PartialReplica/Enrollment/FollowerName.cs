namespace PartialReplica.Enrollment;

/// <summary>Validation of follower names, which are Conjur host identifiers.</summary>
internal static class FollowerName
{
    /// <summary>Throws a clear error when the name cannot be a host identifier.</summary>
    public static string Validate(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new PartialReplicaException("A follower name is required, e.g. --name conjur/followers/east-1.");
        }

        if (name.Length > 200)
        {
            throw new PartialReplicaException("A follower name is at most 200 characters.");
        }

        if (name.StartsWith('/') || name.EndsWith('/') || name.Contains("//", StringComparison.Ordinal))
        {
            throw new PartialReplicaException($"Follower name '{name}' has an empty path segment; write it as conjur/followers/east-1.");
        }

        if (name.Any(char.IsControl) || name.Contains(':', StringComparison.Ordinal))
        {
            throw new PartialReplicaException("A follower name cannot contain control characters or ':'.");
        }

        return name;
    }
}
