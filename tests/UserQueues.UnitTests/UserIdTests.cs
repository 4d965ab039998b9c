using UserQueues.Messaging;

namespace UserQueues.UnitTests;

public class UserIdTests
{
    [Theory]
    [InlineData("u1")]
    [InlineData("U-1_a.b:c")]
    [InlineData("0")]
    public void SafeUserIdsAreAccepted(string userId) => Assert.Null(UserIds.Validate(userId));

    [Theory]
    [InlineData("", "required")]
    [InlineData(null, "required")]
    [InlineData("-u1", "must start with a letter or digit")]
    [InlineData("u 1", "may contain only")]
    [InlineData("u/1", "may contain only")]
    [InlineData("u#1", "may contain only")]
    [InlineData("ü1", "may contain only")]
    [InlineData("u1\n", "may contain only")]
    public void UnsafeUserIdsAreRefusedWithAReason(string? userId, string reason)
    {
        var problem = UserIds.Validate(userId);
        Assert.NotNull(problem);
        Assert.Contains(reason, problem);
    }

    [Fact]
    public void UserIdLongerThanTheLimitIsRefused()
    {
        Assert.Null(UserIds.Validate(new string('a', UserIds.MaxLength)));
        Assert.Contains("at most 128", UserIds.Validate(new string('a', UserIds.MaxLength + 1)));
    }

    [Fact]
    public void NamesFollowTheSeedDesign()
    {
        Assert.Equal("queue.user.u1", Topology.QueueName("u1"));
        Assert.Equal("user.u1", Topology.RoutingKey("u1"));
        Assert.Equal("user_exchange", Topology.UserExchange);
        Assert.Equal("user_control", Topology.ControlExchange);
        Assert.Equal("u1", Topology.UserIdOfQueue("queue.user.u1"));
        Assert.Null(Topology.UserIdOfQueue("queue.dead_letter"));
    }

    [Fact]
    public void UserQueueArgumentsCarrySingleActiveConsumerAndDeadLetteringButNoBrokerExpiry()
    {
        var arguments = Topology.UserQueueArguments();
        // x-expires would delete a queue holding messages whenever no worker consumes it.
        Assert.False(arguments.ContainsKey("x-expires"));
        Assert.Equal(true, arguments["x-single-active-consumer"]);
        Assert.Equal("user_dead_letter", arguments["x-dead-letter-exchange"]);
    }
}
