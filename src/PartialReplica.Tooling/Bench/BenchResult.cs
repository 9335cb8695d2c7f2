using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace PartialReplica.Tooling.Bench;

/// <summary>One line of the benchmark (SPEC §6): <c>ratio</c> = gateway / native.</summary>
internal sealed record BenchFigure(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("what")] string What,
    [property: JsonPropertyName("gateway")] double Gateway,
    [property: JsonPropertyName("native")] double? Native,
    [property: JsonPropertyName("unit")] string Unit,
    [property: JsonPropertyName("firstBar")] string FirstBar,
    [property: JsonPropertyName("goal")] string Goal)
{
    [JsonPropertyName("ratio")]
    public double? Ratio => Native is > 0 ? Math.Round(Gateway / Native.Value, 3) : null;

    [JsonPropertyName("gatewayP50")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? GatewayP50 { get; init; }

    [JsonPropertyName("nativeP50")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? NativeP50 { get; init; }

    /// <summary>Each sample when the figures are medians (P1), in the order measured.</summary>
    [JsonPropertyName("gatewaySamples")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? GatewaySamples { get; init; }

    [JsonPropertyName("nativeSamples")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? NativeSamples { get; init; }

    /// <summary>P8 (SPEC §6): the steady run's p99 at all followers, ms.</summary>
    [JsonPropertyName("steadyP99Ms")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? SteadyP99Ms { get; init; }

    /// <summary>P8: gateway CPU per commit at all followers / at a quarter of them (20 / 5 at full size).</summary>
    [JsonPropertyName("costRatio20to5")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? CostRatio20To5 { get; init; }

    /// <summary>P8: the gateway's peak RSS at all followers, MB.</summary>
    [JsonPropertyName("rssMb")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? RssMb { get; init; }

    /// <summary>Further named measures of the figure (P10: latency, backlog, CPU and leader work per commit).</summary>
    [JsonPropertyName("details")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, double>? Details { get; init; }
}

/// <summary>The whole run: machine, sizes, figures, and the correctness checks that preceded them.</summary>
internal sealed record BenchReport(
    [property: JsonPropertyName("machine")] object Machine,
    [property: JsonPropertyName("quick")] bool Quick,
    [property: JsonPropertyName("verified")] IReadOnlyList<string> Verified,
    [property: JsonPropertyName("results")] IReadOnlyList<BenchFigure> Results)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    public Table ToTable()
    {
        var table = new Table().AddColumns("id", "what", "gateway", "native", "unit", "ratio", "first bar", "goal");
        foreach (var r in Results)
        {
            var gateway = r.GatewayP50 is { } g50 ? $"p50 {Format(g50)} / p99 {Format(r.Gateway)}" : Format(r.Gateway);
            var native = r.Native is null ? "—" : r.NativeP50 is { } n50 ? $"p50 {Format(n50)} / p99 {Format(r.Native.Value)}" : Format(r.Native.Value);
            var what = r.Details is null ? r.What : r.What + " (" + string.Join(", ", r.Details.Select(d => $"{d.Key} {Format(d.Value)}")) + ")";
            table.AddRow(r.Id, Markup.Escape(what), gateway, native, r.Unit, r.Ratio?.ToString("0.00", CultureInfo.InvariantCulture) ?? "—",
                Markup.Escape(r.FirstBar), Markup.Escape(r.Goal));
        }

        return table;
    }

    private static string Format(double value) => value.ToString(value >= 100 ? "0" : "0.000", CultureInfo.InvariantCulture);
}
