using System.ComponentModel.DataAnnotations;
using System.Globalization;
using PartialReplica.Configuration;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// One setting of a host and every way to set it: its configuration key, its environment variable and, where
/// <c>partial-replica serve</c> has one, its option. A refused setting is one sentence ending in <see cref="Fix"/>.
/// </summary>
internal sealed record Setting(string Key, string EnvironmentVariable, string? Option = null)
{
    /// <summary>How to set it.</summary>
    public string Fix => Option is null
        ? $"set {EnvironmentVariable} or {Key}"
        : $"pass {Option}, or set {EnvironmentVariable} or {Key}";

    /// <summary>A setting without a flat variable: the key, and the environment form ASP.NET reads (<c>Section__Name</c>).</summary>
    public static Setting Of(string section, string property) => new($"{section}:{property}", $"{section}__{property}");

    /// <summary>"<paramref name="problem"/>: how to set it."</summary>
    public string Refuse(string problem) => $"{problem.TrimEnd('.')}: {Fix}.";

    /// <summary>
    /// Each data-annotation failure of <paramref name="options"/> as one sentence naming the setting (from
    /// <paramref name="known"/>, else <see cref="Of"/>). Never quotes a value.
    /// </summary>
    public static List<string> CheckAnnotations(object options, string section, IReadOnlyDictionary<string, Setting> known)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return [.. results.Select(result =>
        {
            var property = result.MemberNames.FirstOrDefault() ?? "";
            var setting = known.GetValueOrDefault(property) ?? Of(section, property);
            return setting.Refuse(result.ErrorMessage ?? string.Create(CultureInfo.InvariantCulture, $"{setting.Key} is not valid"));
        })];
    }

    /// <summary>A connection string or URI that does not parse, as one sentence; nothing for an empty one (Required says that).</summary>
    public string? CheckConnectionString(string? value, string whatFor)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        try
        {
            ConnectionStrings.Normalize(value, whatFor);
            return null;
        }
        catch (PartialReplicaException e)
        {
            return Refuse(e.Message);
        }
    }
}
