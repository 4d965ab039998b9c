using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

/// <summary>Dead letters stay browsable, replayable and purgeable, per user, through the admin API.</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class DeadLetterTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);
    private static readonly string[] UnknownIds = ["x"];

    private Task<string> SendAsync(string userId, string path) =>
        system.SendAsync(new { userId, callbackUrl = system.Sink.UrlFor(path), payload = new { path } });

    private HttpRequestMessage Admin(HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("x-api-key", system.AdminApiKey);
        return request;
    }

    private async Task<JsonElement> ListAsync(string userId, int page = 1, int pageSize = 10)
    {
        var response = await system.Api.SendAsync(Admin(HttpMethod.Get, $"/admin/dead-letters?userId={userId}&page={page}&pageSize={pageSize}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string[] Ids(JsonElement list) => [.. list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()!)];

    [Fact]
    public async Task DeadLettersAreListedReplayedAndPurgedPerUserWithoutTouchingOthers()
    {
        // 410 on the first attempt of each message: dead-lettered at once; a replay is answered 200.
        var first = await SendAsync("dl-1", "flaky/1/410/dl-1/a");
        var second = await SendAsync("dl-1", "flaky/1/410/dl-1/b");
        var other = await SendAsync("dl-2", "flaky/1/410/dl-2/c");

        var list = await Eventually.WaitAsync(() => ListAsync("dl-1"), l => l.GetProperty("total").GetInt32() == 2, Deadline, "two dead letters for dl-1");
        Assert.True(list.GetProperty("complete").GetBoolean());
        Assert.Equal([first, second], Ids(list));
        var letter = list.GetProperty("items")[0];
        Assert.Equal("dl-1", letter.GetProperty("userId").GetString());
        Assert.Equal(410, letter.GetProperty("lastStatus").GetInt32());
        Assert.Equal(1, letter.GetProperty("attempts").GetInt32());
        Assert.Contains("410", letter.GetProperty("reason").GetString());
        Assert.Contains("dl-1/a", letter.GetProperty("payload").GetString());
        Assert.Equal([second], Ids(await ListAsync("dl-1", page: 2, pageSize: 1)));

        var replay = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/replay", new { userId = "dl-1", messageIds = new[] { first } }));
        Assert.Equal(1, (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        var replayed = await system.Sink.WaitForAsync("flaky/1/410/dl-1/a", c => c.Any(r => r.AnsweredStatus == 200), Deadline);
        Assert.All(replayed, r => Assert.Equal(first, r.Headers["webhook-id"]));

        Assert.Equal([second], Ids(await ListAsync("dl-1")));
        var purge = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-1" }));
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        Assert.Equal(0, (await ListAsync("dl-1")).GetProperty("total").GetInt32());

        // The other user's dead letter was given back each time, untouched.
        Assert.Equal([other], Ids(await ListAsync("dl-2")));
        (await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-2" }))).EnsureSuccessStatusCode();

        var audit = await (await system.Api.SendAsync(Admin(HttpMethod.Get, "/admin/audit?pageSize=50"))).Content.ReadAsStringAsync();
        Assert.Contains("replay-dead-letters", audit);
        Assert.Contains("purge-dead-letters", audit);
    }

    [Fact]
    public async Task DeadLetterEndpointsNeedTheAdminKeyAndValidInput()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await system.Api.GetAsync("/admin/dead-letters?userId=dl-1")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await system.Api.SendAsync(Admin(HttpMethod.Get, "/admin/dead-letters?userId=bad%20id"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await system.Api.SendAsync(Admin(HttpMethod.Get, "/admin/dead-letters?userId=dl-1&pageSize=0"))).StatusCode);
        var purgeWithIds = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-1", messageIds = UnknownIds }));
        Assert.Equal(HttpStatusCode.BadRequest, purgeWithIds.StatusCode);
        Assert.Contains("messageIds", await purgeWithIds.Content.ReadAsStringAsync());
    }
}
