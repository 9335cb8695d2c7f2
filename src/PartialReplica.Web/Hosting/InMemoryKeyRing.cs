using System.Collections.Concurrent;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// ASP.NET Core's authentication registers data protection, which nothing in the gateway or the agent uses (their
/// tokens are JWTs signed with the product's own keys). Its key ring is kept in this process's memory: nothing is
/// written to the home folder, and there is no stored key to warn about.
/// </summary>
internal static class InMemoryKeyRing
{
    public static IServiceCollection AddInMemoryDataProtection(this IServiceCollection services)
    {
        services.AddDataProtection();
        services.Configure<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>(options => options.XmlRepository = new Repository());

        // Its hosted service makes a key at start, unencrypted and warned about, for protection nothing asks for:
        // without it a key is made only on first use, in memory.
        foreach (var loader in services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToList())
        {
            services.Remove(loader);
        }

        return services;
    }

    private sealed class Repository : IXmlRepository
    {
        private readonly ConcurrentQueue<XElement> _elements = new();

        public IReadOnlyCollection<XElement> GetAllElements() => [.. _elements.Select(e => new XElement(e))];

        public void StoreElement(XElement element, string friendlyName) => _elements.Enqueue(new XElement(element));
    }
}
