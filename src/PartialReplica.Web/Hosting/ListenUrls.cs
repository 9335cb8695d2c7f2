using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace PartialReplica.Web.Hosting;

/// <summary>The addresses a host listens on (<c>urls</c>: <c>--urls</c> or <c>ASPNETCORE_URLS</c>), checked at start.</summary>
internal sealed class ListenUrls
{
    public string? Urls { get; set; }
}

/// <summary>
/// Refuses a listening address Kestrel could not bind, in one line, before the host starts (Kestrel would fail
/// with a stack trace after the host began).
/// </summary>
internal sealed class ListenUrlsValidator : IValidateOptions<ListenUrls>
{
    public ValidateOptionsResult Validate(string? name, ListenUrls options)
    {
        var failures = new List<string>();
        foreach (var address in (options.Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IsValid(address))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"'{address}' is not an address to listen on (e.g. http://127.0.0.1:8080, port 0–65535): pass --urls, or set ASPNETCORE_URLS or urls."));
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsValid(string address)
    {
        try
        {
            var parsed = BindingAddress.Parse(address);
            return parsed.Port is >= 0 and <= 65535 && parsed.Scheme is "http" or "https";
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
