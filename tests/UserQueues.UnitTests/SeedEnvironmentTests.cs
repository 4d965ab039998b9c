using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace UserQueues.UnitTests;

public class SeedEnvironmentTests
{
    private static ConfigurationManager Configuration(params (string Key, string Value)[] values)
    {
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)));
        return configuration;
    }

    [Fact]
    public void SeedVariablesFeedTheirConfigurationKeys()
    {
        var configuration = Configuration(
            ("RABBIT_URL", "amqp://guest:guest@localhost:5672"),
            ("PREFETCH", "7"),
            ("DEFAULT_QUEUE_TTL_MS", "60000"),
            ("ADMIN_API_KEY", "secret"),
            ("SHARD_COUNT", "4"));

        configuration.AddSeedEnvironment();

        Assert.Equal("amqp://guest:guest@localhost:5672", configuration.GetConnectionString("messaging"));
        Assert.Equal("7", configuration["Worker:Prefetch"]);
        Assert.Equal("60000", configuration["Messaging:DefaultQueueTtlMs"]);
        Assert.Equal("secret", configuration["Admin:ApiKey"]);
        Assert.Equal("4", configuration["Messaging:ShardCount"]);
    }

    [Fact]
    public void AnExplicitKeyWinsOverTheSeedVariable()
    {
        var configuration = Configuration(("PREFETCH", "7"), ("Worker:Prefetch", "9"), ("ConnectionStrings:messaging", "amqp://aspire"), ("RABBIT_URL", "amqp://seed"));

        configuration.AddSeedEnvironment();

        Assert.Equal("9", configuration["Worker:Prefetch"]);
        Assert.Equal("amqp://aspire", configuration.GetConnectionString("messaging"));
    }
}
