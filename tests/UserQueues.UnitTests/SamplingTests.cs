using System.Reflection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace UserQueues.UnitTests;

public sealed class SamplingTests
{
    // Api has an Extensions class of the same full name as ServiceDefaults': reach it by its assembly.
    private static readonly MethodInfo CreateSampler = typeof(SeedEnvironment).Assembly
        .GetType("Microsoft.Extensions.Hosting.Extensions")!.GetMethod("CreateSampler")!;

    private static Sampler SamplerFor(string environment, string? ratio)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = environment });
        if (ratio is not null)
        {
            builder.Configuration["Telemetry:TraceSampleRatio"] = ratio;
        }

        try
        {
            return (Sampler)CreateSampler.Invoke(null, [builder])!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    [Fact]
    public void DevelopmentRecordsEveryTraceWhateverTheRatio() =>
        Assert.IsType<AlwaysOnSampler>(SamplerFor("Development", "0.01"));

    [Theory]
    [InlineData(null, "1.000000")]
    [InlineData("0.25", "0.250000")]
    public void ElsewhereTheRatioDecidesAndTheParentsDecisionIsFollowed(string? ratio, string expected)
    {
        var sampler = Assert.IsType<ParentBasedSampler>(SamplerFor("Production", ratio));
        Assert.Contains($"TraceIdRatioBasedSampler{{{expected}}}", sampler.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void ARatioOutsideZeroToOneStopsTheService() =>
        Assert.Contains("Telemetry:TraceSampleRatio", Assert.Throws<InvalidOperationException>(() => SamplerFor("Production", "1.5")).Message, StringComparison.Ordinal);
}
