using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using UserQueues.Api.Apis;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.UnitTests;

public sealed class AdminApiUnitTests
{
    [Theory]
    [InlineData("Development", "change-me", true)]
    [InlineData("Production", "change-me", false)]
    [InlineData("Staging", "change-me", false)]
    [InlineData("Production", "", false)]
    [InlineData("Development", " ", false)]
    [InlineData("Production", "7f3c0d1e9a4b4f52b8c1", true)]
    public void TheDefaultKeyIsRefusedOutsideDevelopmentAndAnEmptyKeyEverywhere(string environment, string key, bool accepted)
    {
        var validator = new AdminOptionsValidator(new Environment(environment));

        var result = validator.Validate(null, new AdminOptions { ApiKey = key });

        Assert.Equal(accepted, result.Succeeded);
        if (!accepted)
        {
            Assert.Contains("ADMIN_API_KEY", result.FailureMessage);
        }
    }

    [Fact]
    public void ANamedKeyIsCheckedLikeTheSeedKey()
    {
        var validator = new AdminOptionsValidator(new Environment("Production"));

        var result = validator.Validate(null, new AdminOptions { ApiKey = "a-long-secret-key", Keys = { ["alice"] = "change-me" } });

        Assert.False(result.Succeeded);
        Assert.Contains("Admin:Keys:alice", result.FailureMessage);
    }

    [Fact]
    public void QueueListParametersDefaultToTheFirstPageByUserId()
    {
        Assert.Null(new QueueListParameters(null, null, null, null, null).Validate(out var query, out var live));
        Assert.Equal(new QueueQuery(1, 50, null, null, QueueSortField.UserId, false), query);
        Assert.Null(live);
    }

    [Fact]
    public void QueueListParametersReadStatusSortAndSearch()
    {
        Assert.Null(new QueueListParameters(3, 20, " u1 ", "Stopped", "-lastActivity").Validate(out var query, out _));
        Assert.Equal(new QueueQuery(3, 20, "u1", ConsumerStatus.Stopped, QueueSortField.LastActivity, true), query);

        Assert.Null(new QueueListParameters(null, null, null, "all", "-ready").Validate(out _, out var live));
        Assert.NotNull(live);
        Assert.True(live.Descending);
        Assert.Equal(7, live.Key(new SnapshotQueueFigures(7, 1, 1, 0, 0)));
    }

    [Theory]
    [InlineData(0, null, null, null, "page")]
    [InlineData(null, 501, null, null, "pageSize")]
    [InlineData(null, null, "sleeping", null, "status")]
    [InlineData(null, null, null, "colour", "sort")]
    public void QueueListParametersNameTheWrongOne(int? page, int? pageSize, string? status, string? sort, string field)
    {
        var errors = new QueueListParameters(page, pageSize, null, status, sort).Validate(out _, out _);

        Assert.NotNull(errors);
        Assert.Equal([field], errors.Keys);
    }

    [Fact]
    public void TheAllCommandsRoundTripWithoutAUserId()
    {
        Assert.Equal(ControlCommand.StopAll, ControlCommand.TryParse(ControlCommand.StopAll.ToBytes()));
        Assert.Equal(ControlCommand.StartAll, ControlCommand.TryParse(ControlCommand.StartAll.ToBytes()));
        Assert.Null(ControlCommand.TryParse("""{"action":"Unsubscribe"}"""u8));
        Assert.Equal(ControlCommand.StopAll, ControlCommand.TryParse("""{"action":"UnsubscribeAll","userId":"ignored"}"""u8));
    }

    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "UserQueues.Api";
        public string ContentRootPath { get; set; } = "/";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
