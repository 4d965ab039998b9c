using System.Net;
using System.Text;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

[Collection(UserQueuesAppGroup.Name)]
public sealed class BadInputTests(UserQueuesAppFixture system)
{
    /// <summary>Endpoint, content type, body, expected status, a word the problem must contain, the user whose queue must not appear.</summary>
    public static TheoryData<string, string, string, int, string, string> BadRequests => new()
    {
        { "/send-message", "application/json", """{"userId":"bad-1","callbackUrl":""", 400, "not valid JSON", "bad-1" },
        { "/send-message", "text/plain", """{"userId":"bad-2","callbackUrl":"http://example.com/x"}""", 415, "Content-Type", "bad-2" },
        { "/send-message", "application/json", """["bad-3"]""", 400, "JSON object", "bad-3" },
        { "/send-message", "application/json", """{"callbackUrl":"http://example.com/x"}""", 400, "userId is required", "" },
        { "/send-message", "application/json", """{"userId":"bad 5","callbackUrl":"http://example.com/x"}""", 400, "may contain only", "" },
        { "/send-message", "application/json", $$"""{"userId":"{{new string('b', 129)}}","callbackUrl":"http://example.com/x"}""", 400, "at most 128", "" },
        { "/send-message", "application/json", """{"userId":"bad-7"}""", 400, "callbackUrl is required", "bad-7" },
        { "/send-message", "application/json", """{"userId":"bad-8","callbackUrl":"/relative"}""", 400, "absolute http", "bad-8" },
        { "/send-message", "application/json", """{"userId":"bad-9","callbackUrl":"ftp://example.com/x"}""", 400, "absolute http", "bad-9" },
        { "/send-message", "application/json", """{"userId":"bad-10","callbackUrl":"http://a:b@example.com/x"}""", 400, "credentials", "bad-10" },
        { "/send-message", "application/json", """{"userId":"bad-11","instance_key":"bad-11b","callbackUrl":"http://example.com/x"}""", 400, "disagree", "bad-11" },
        { "/send-message", "application/json", """{"userId":"bad-12","callbackUrl":"http://example.com/x","delaySeconds":-1}""", 400, "0 or more", "bad-12" },
        { "/send-message", "application/json", """{"userId":"bad-13","callbackUrl":"http://example.com/x","delaySeconds":2.5}""", 400, "whole number", "bad-13" },
        { "/send-message", "application/json", """{"userId":"bad-14","callbackUrl":"http://example.com/x","delaySeconds":604801}""", 400, "at most 604800", "bad-14" },
        { "/send-message", "application/json", $$"""{"userId":"bad-15","callbackUrl":"http://example.com/x","payload":"{{new string('x', 300 * 1024)}}"}""", 413, "larger than", "bad-15" },
        { "/send-message", "application/json", """{"userId":17,"callbackUrl":"http://example.com/x"}""", 400, "must be a string", "" },
        // Callback URLs whose host is a blocked literal address, in the spellings Uri accepts (the
        // test system allows 127.0.0.1/32 only, so 127.0.0.2 is a blocked loopback address).
        { "/send-message", "application/json", """{"userId":"bad-30","callbackUrl":"http://10.0.0.1/hook"}""", 400, "destination 10.0.0.1 is in a blocked network (private)", "bad-30" },
        { "/send-message", "application/json", """{"userId":"bad-31","callbackUrl":"http://169.254.169.254/latest/meta-data/"}""", 400, "link-local", "bad-31" },
        { "/send-message", "application/json", """{"userId":"bad-32","callbackUrl":"http://[::1]:3001/x"}""", 400, "destination ::1 is in a blocked network (loopback)", "bad-32" },
        { "/send-message", "application/json", """{"userId":"bad-33","callbackUrl":"http://[::ffff:192.168.1.1]/x"}""", 400, "destination 192.168.1.1 is in a blocked network (private)", "bad-33" },
        { "/send-message", "application/json", """{"userId":"bad-34","callbackUrl":"http://2130706434/x"}""", 400, "destination 127.0.0.2 is in a blocked network (loopback)", "bad-34" },
        { "/send-message", "application/json", """{"userId":"bad-35","callbackUrl":"http://0x7f.2/x"}""", 400, "destination 127.0.0.2 is in a blocked network (loopback)", "bad-35" },
        { "/send-message", "application/json", """{"userId":"bad-36","callbackUrl":"http://100.64.0.1/x"}""", 400, "carrier-grade NAT", "bad-36" },
        { "/send-message", "application/json", """{"userId":"bad-37","callbackUrl":42}""", 400, "callbackUrl must be a string", "bad-37" },
        { "/send-message", "application/json", $$"""{"userId":"bad-38","callbackUrl":"http://example.com/{{new string('p', 2050)}}"}""", 400, "longer than 2048", "bad-38" },
        { "/send-message", "application/json", """{"userId":"bad-39","callbackUrl":"http://example.com/x","delaySeconds":99999999999}""", 400, "at most 604800", "bad-39" },
        { "/send-message", "application/json", """{"userId":"bad-40","callbackUrl":"http://example.com/x","delaySeconds":"5"}""", 400, "whole number", "bad-40" },
        { "/send-message", "application/json", "", 400, "not valid JSON", "" },
        { "/create-queue", "application/json", """{"userId":"bad-41","ttlMs":2592000001}""", 400, "between", "bad-41" },
        { "/create-queue", "application/json", """{"userId":"bad-42","instance_key":"bad-42x"}""", 400, "disagree", "bad-42" },
        { "/create-queue", "application/json", """{"userId":"bad/43"}""", 400, "may contain only", "" },
        { "/create-queue", "application/json", """{"userId":"bad-21","ttlMs":0}""", 400, "between", "bad-21" },
        { "/create-queue", "application/json", """{"userId":"bad-22","ttlMs":"600000"}""", 400, "whole number", "bad-22" },
        { "/create-queue", "application/json", """{"userId":"-bad-23"}""", 400, "must start with", "" },
        { "/create-queue", "application/json", """{"ttlMs":1000}""", 400, "userId is required", "" },
        { "/create-queue", "application/json", """{"userId":"bad-25""", 400, "not valid JSON", "bad-25" },
        { "/create-queue", "application/xml", """<userId>bad-26</userId>""", 415, "Content-Type", "bad-26" },
        { "/create-queue", "application/json", """{"userId":"bad-27","ordering":"fifo"}""", 400, "strict", "bad-27" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInputIsRefusedWithProblemDetailsAndCreatesNothing(
        string path, string contentType, string body, int status, string says, string userId)
    {
        var response = await system.Api.PostAsync(path, new StringContent(body, Encoding.UTF8, contentType));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadAsStringAsync();
        Assert.Contains(says, problem);
        var json = JsonDocument.Parse(problem).RootElement;
        Assert.Equal(status, json.GetProperty("status").GetInt32());
        Assert.False(json.GetProperty("success").GetBoolean());

        if (userId.Length > 0)
        {
            Assert.Null(await system.Broker.InspectAsync($"queue.user.{userId}"));
        }
    }

    [Fact]
    public async Task AnUnknownRouteIsAProblemToo()
    {
        var response = await system.Api.GetAsync("/no-such-endpoint");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
