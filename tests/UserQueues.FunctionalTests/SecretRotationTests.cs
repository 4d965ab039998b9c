using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

/// <summary>Rotating a user's signing secret through the admin API: both signatures during the rotation, one after.</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class SecretRotationTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private HttpRequestMessage Admin(string path, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("x-api-key", system.AdminApiKey);
        return request;
    }

    /// <summary>The receiver's own check (Standard Webhooks), independent of UserQueues' signer.</summary>
    private static bool SignedWith(string secret, ReceivedCallback callback)
    {
        using var hmac = new HMACSHA256(Convert.FromBase64String(secret["whsec_".Length..]));
        var signed = $"{callback.Headers["webhook-id"]}.{callback.Headers["webhook-timestamp"]}.{callback.Body}";
        return callback.Headers["webhook-signature"].Split(' ').Contains("v1," + Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(signed))));
    }

    /// <summary>Sends messages until one arrives that satisfies <paramref name="done"/> (workers cache secrets for a short while).</summary>
    private async Task<ReceivedCallback> DeliveredUntilAsync(string userId, Func<ReceivedCallback, bool> done)
    {
        var round = 0;
        return await Eventually.WaitAsync(async () =>
        {
            var path = $"{userId}/{round++}";
            await system.SendAsync(new { userId, callbackUrl = system.Sink.UrlFor(path), payload = round });
            return (await system.Sink.WaitForAsync(path, c => c.Count >= 1, Deadline))[0];
        }, done, Deadline, $"a delivery to {userId} signed as expected");
    }

    [Fact]
    public async Task ARotationSignsWithBothSecretsUntilItEndsAndIsAudited()
    {
        var created = await (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "rotate-1" })).Content.ReadFromJsonAsync<JsonElement>();
        var oldSecret = created.GetProperty("signingSecret").GetString()!;

        var rotated = await system.Api.SendAsync(Admin("/admin/rotate-secret", new { userId = "rotate-1" }));
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var answer = await rotated.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(answer.GetProperty("rotating").GetBoolean());
        var newSecret = answer.GetProperty("signingSecret").GetString()!;
        Assert.NotEqual(oldSecret, newSecret);

        var during = await DeliveredUntilAsync("rotate-1", c => c.Headers["webhook-signature"].Split(' ').Length == 2);
        Assert.True(SignedWith(newSecret, during));
        Assert.True(SignedWith(oldSecret, during));

        (await system.Api.SendAsync(Admin("/admin/end-secret-rotation", new { userId = "rotate-1" }))).EnsureSuccessStatusCode();
        var after = await DeliveredUntilAsync("rotate-1", c => c.Headers["webhook-signature"].Split(' ').Length == 1);
        Assert.True(SignedWith(newSecret, after));
        Assert.False(SignedWith(oldSecret, after));

        var auditRequest = new HttpRequestMessage(HttpMethod.Get, "/admin/audit?pageSize=100");
        auditRequest.Headers.Add("x-api-key", system.AdminApiKey);
        var audit = await (await system.Api.SendAsync(auditRequest)).Content.ReadAsStringAsync();
        Assert.Contains("rotate-secret", audit);
        Assert.DoesNotContain(newSecret, audit);
    }

    [Fact]
    public async Task RotatingNeedsTheKeyAndAKnownUser()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await system.Api.PostAsJsonAsync("/admin/rotate-secret", new { userId = "rotate-1" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await system.Api.SendAsync(Admin("/admin/rotate-secret", new { userId = "nobody-rotates" }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await system.Api.SendAsync(Admin("/admin/rotate-secret", new { userId = "bad id" }))).StatusCode);
    }
}
