namespace PartialReplica.Web;
internal static class Placeholder;
