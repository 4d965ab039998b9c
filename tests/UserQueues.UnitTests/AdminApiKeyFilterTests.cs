using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using UserQueues.Api.Apis;

namespace UserQueues.UnitTests;

public sealed class AdminApiKeyFilterTests
{
    private static readonly AdminOptions Keys = new() { ApiKey = "seed-key-0123456789", Keys = { ["alice"] = "alice-key-0123456789" } };

    [Theory]
    [InlineData("seed-key-0123456789", "api-key")]
    [InlineData("alice-key-0123456789", "alice")]
    public async Task AValidKeyPassesAndNamesItsIdentity(string presented, string identity)
    {
        var (result, context, reached) = await InvokeAsync(presented);

        Assert.True(reached);
        Assert.Equal("passed", result);
        Assert.Equal(identity, AdminApiKeyFilter.ActorOf(context));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("seed-key-012345678")]
    [InlineData("seed-key-0123456789 ")]
    [InlineData("SEED-KEY-0123456789")]
    public async Task AMissingOrWrongKeyIsAnswered401WithoutReachingTheHandler(string? presented)
    {
        var (result, context, reached) = await InvokeAsync(presented);

        Assert.False(reached);
        var problem = Assert.IsType<ProblemHttpResult>(result);
        Assert.Equal(StatusCodes.Status401Unauthorized, problem.StatusCode);
        Assert.Contains("x-api-key", problem.ProblemDetails.Detail);
        Assert.Contains("x-api-key", context.Response.Headers.WWWAuthenticate.ToString());
    }

    private static async Task<(object? Result, HttpContext Context, bool Reached)> InvokeAsync(string? presented)
    {
        var context = new DefaultHttpContext();
        if (presented is not null)
        {
            context.Request.Headers["x-api-key"] = presented;
        }

        var reached = false;
        var filter = new AdminApiKeyFilter(new StaticOptionsMonitor(Keys));
        var result = await filter.InvokeAsync(EndpointFilterInvocationContext.Create(context), _ =>
        {
            reached = true;
            return ValueTask.FromResult<object?>("passed");
        });
        return (result, context, reached);
    }

    private sealed class StaticOptionsMonitor(AdminOptions value) : IOptionsMonitor<AdminOptions>
    {
        public AdminOptions CurrentValue => value;

        public AdminOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<AdminOptions, string?> listener) => null;
    }
}
