
namespace PartialReplica.Web.Gateway.Apis;

/// <summary>Ids that travel in a URL path segment, Conjur style (<c>host%2Fconjur%2Ffollowers%2Feast-1</c>).</summary>
internal static class RouteIds
{
    /// <summary>
    /// Routing decodes a path value except its encoded slashes (<c>%2F</c> stays as is so segments keep their
    /// meaning); finish the job here, and only for slashes, so nothing is decoded twice.
    /// </summary>
    public static string Decode(string value) =>
        value.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
}
