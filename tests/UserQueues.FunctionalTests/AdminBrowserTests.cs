using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace UserQueues.FunctionalTests;

/// <summary>The admin UI in a real browser against the real system.</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed partial class AdminBrowserTests(UserQueuesAppFixture system) : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StaysStopped = TimeSpan.FromSeconds(5);

    private AdminBrowser _browser = null!;

    private IPage Page => _browser.Page;

    public async Task InitializeAsync() => _browser = await AdminBrowser.LaunchAsync(system.App.GetEndpoint("admin", "http"));

    [Fact]
    public async Task AWrongKeyIsRefusedAndTheRightKeySignsInToTheQueuesPage()
    {
        await Page.GotoAsync("");
        await Page.WaitForURLAsync(SignInUrl());

        await _browser.SignInAsync("not-the-key");
        await Assertions.Expect(Page.GetByTestId("signin-error")).ToContainTextAsync("refused");

        await _browser.SignInAsync(system.AdminApiKey);
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Queues" })).ToBeVisibleAsync();
        await _browser.WaitForQueuesPageAsync();
        await Assertions.Expect(Page.GetByTestId("totals")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task AnOperatorStopsStartsAndPurgesAQueueFromTheQueuesPage()
    {
        const string user = "browser-1";
        await CreateQueueAsync(user);
        await _browser.SignInAsync(system.AdminApiKey);
        await SearchAsync(user);
        await Assertions.Expect(Page.GetByTestId($"status-{user}")).ToHaveTextAsync("running");

        // Stop: a message sent now waits on the broker and is not delivered.
        await Page.GetByTestId($"stop-{user}").ClickAsync();
        await Assertions.Expect(Page.GetByText($"Stopped {user}", new() { Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(Page.GetByTestId($"status-{user}")).ToHaveTextAsync("stopped");
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, "no consumer after Stop");
        var messageId = await SendAsync(user, 1);
        await Consistently.HoldsAsync(() => system.Broker.InspectAsync(Queue(user)), q => q is { MessageCount: 1, ConsumerCount: 0 },
            StaysStopped, "the message waits in the stopped queue");
        Assert.Empty(system.Sink.For(user));
        // The page updates itself (no reload): the waiting message shows as ready.
        await Assertions.Expect(Page.GetByTestId($"ready-{user}")).ToHaveTextAsync("1");
        await _browser.ScreenshotAsync("queues-stopped");

        // Start: the waiting message is delivered.
        await Page.GetByTestId($"start-{user}").ClickAsync();
        await Assertions.Expect(Page.GetByText($"Started {user}", new() { Exact = true })).ToBeVisibleAsync();
        var delivered = await system.Sink.WaitForAsync(user, c => c.Count == 1, DeliveryTimeout);
        Assert.Equal(messageId, delivered[0].Headers["webhook-id"]);

        // Purge asks first; confirmed, it empties the queue.
        await Page.GetByTestId($"stop-{user}").ClickAsync();
        await Assertions.Expect(Page.GetByTestId($"status-{user}")).ToHaveTextAsync("stopped");
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, "no consumer after the second Stop");
        await SendAsync(user, 2);
        await SendAsync(user, 3);
        await Page.GetByTestId($"purge-{user}").ClickAsync();
        await Page.GetByText("Yes, purge").ClickAsync();
        await Assertions.Expect(Page.GetByText($"Purged {user}", new() { Exact = true })).ToBeVisibleAsync();
        Assert.Equal(0u, (await system.Broker.InspectAsync(Queue(user)))!.MessageCount);
        await Assertions.Expect(Page.GetByTestId($"ready-{user}")).ToHaveTextAsync("0");

        await Page.GetByTestId($"start-{user}").ClickAsync();
        await Assertions.Expect(Page.GetByTestId($"status-{user}")).ToHaveTextAsync("running");
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, CommandTimeout, "consumed again after Start");
        Assert.Single(system.Sink.For(user));
    }

    [Fact]
    public async Task ASearchKeepsTheButtonsOfTheRowsStillListedSoAClickDuringItIsNotLost()
    {
        string[] users = ["keep-1", "keep-2"];
        foreach (var user in users)
        {
            await CreateQueueAsync(user);
        }

        await _browser.SignInAsync(system.AdminApiKey);
        await SearchAsync("keep-");
        await Assertions.Expect(Page.GetByTestId("stop-keep-2")).ToBeVisibleAsync();
        // Mark the button element itself: the same element must still be there after the search.
        await Page.GetByTestId("stop-keep-1").EvaluateAsync("button => { button.dataset.mark = 'before-search'; }");

        var search = Page.Locator("[data-testid=search] input").First;
        await search.FillAsync("keep-1");
        await search.PressAsync("Enter");
        await Assertions.Expect(Page.GetByTestId("queue-link-keep-2")).ToHaveCountAsync(0);
        // A grid that renders its rows again from scratch would have replaced every cell and its
        // button (which is how clicks got lost during a search or a status filter change).
        await Assertions.Expect(Page.Locator("[data-testid='stop-keep-1'][data-mark='before-search']")).ToHaveCountAsync(1);

        await Page.GetByTestId("stop-keep-1").ClickAsync();
        await Assertions.Expect(Page.GetByText("Stopped keep-1", new() { Exact = true })).ToBeVisibleAsync();
        await Eventually.WaitAsync(() => ConsumersAsync("keep-1"), n => n == 0, CommandTimeout, "no consumer after Stop");
        using var admin = system.CreateAdminClient();
        (await admin.PostAsJsonAsync("/admin/start-consumer", new { userId = "keep-1" })).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task StopAllFromTheQueuesPageStopsEveryConsumerAfterConfirmation()
    {
        string[] users = ["browser-all-1", "browser-all-2"];
        foreach (var user in users)
        {
            await CreateQueueAsync(user);
        }

        await _browser.SignInAsync(system.AdminApiKey);
        await SearchAsync("browser-all-");
        try
        {
            await Page.GetByTestId("stop-all").ClickAsync();
            await Page.GetByText("Yes, stop all").ClickAsync();
            await Assertions.Expect(Page.GetByText("Stopped all", new() { Exact = true })).ToBeVisibleAsync();
            foreach (var user in users)
            {
                await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, $"{user} has no consumer after Stop all");
                await Assertions.Expect(Page.GetByTestId($"status-{user}")).ToHaveTextAsync("stopped");
            }

            await _browser.ScreenshotAsync("queues-stop-all");
        }
        finally
        {
            using var admin = system.CreateAdminClient();
            (await admin.PostAsync("/admin/start-all", null)).EnsureSuccessStatusCode();
        }

        foreach (var user in users)
        {
            await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, CommandTimeout, $"{user} consumed after start-all");
        }

        await Assertions.Expect(Page.GetByTestId($"status-{users[0]}")).ToHaveTextAsync("running");
        await _browser.ScreenshotAsync("queues");
        await Page.GetByTitle("Switch between light and dark theme").ClickAsync();
        // Dark: the page background (a theme token) turns dark.
        await Page.WaitForFunctionAsync("""
            () => { const rgb = getComputedStyle(document.body).backgroundColor.match(/\d+/g); return rgb && (+rgb[0] + +rgb[1] + +rgb[2]) < 200; }
            """);
        await _browser.ScreenshotAsync("queues-dark");
    }

    [Fact]
    public async Task TheQueueDetailPageShowsADeadLetterAndReplaysIt()
    {
        const string user = "browser-dl";
        await CreateQueueAsync(user);
        // 410 on the first attempt: dead-lettered at once; the replay is answered 200.
        var response = await system.Api.PostAsJsonAsync("/send-message", new { userId = user, callbackUrl = system.Sink.UrlFor($"flaky/1/410/{user}"), payload = new { replay = "me" } });
        response.EnsureSuccessStatusCode();
        var messageId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!;
        await system.Sink.WaitForAsync($"flaky/1/410/{user}", c => c.Count >= 1, DeliveryTimeout);
        await Eventually.WaitAsync(async () => (await system.Registry.FindAsync(user, CancellationToken.None))?.Counts.DeadLettered ?? 0,
            n => n == 1, DeliveryTimeout, "the dead letter counted");

        await _browser.SignInAsync(system.AdminApiKey);
        await _browser.WaitForQueuesPageAsync();
        await Page.GotoAsync($"queues/{user}");
        await Assertions.Expect(Page.Locator("[data-testid=detail-page][data-interactive=true]")).ToBeVisibleAsync();
        await Assertions.Expect(Page.GetByTestId($"dead-letter-{messageId}")).ToContainTextAsync("410");
        await Assertions.Expect(Page.GetByTestId("detail-ordering")).ToContainTextAsync("default");
        await _browser.ScreenshotAsync("queue-detail-dead-letter");

        await Page.GetByTestId($"replay-{messageId}").ClickAsync();
        await Assertions.Expect(Page.GetByText($"Replayed {messageId}", new() { Exact = true })).ToBeVisibleAsync();
        var delivered = await system.Sink.WaitForAsync($"flaky/1/410/{user}", c => c.Any(r => r.AnsweredStatus == 200), DeliveryTimeout);
        Assert.All(delivered, r => Assert.Equal(messageId, r.Headers["webhook-id"]));
        await Assertions.Expect(Page.GetByTestId("dead-letter-total")).ToContainTextAsync("0 dead letter(s)");
    }

    private async Task SearchAsync(string text)
    {
        await _browser.WaitForQueuesPageAsync();
        var search = Page.Locator("[data-testid=search] input").First;
        await search.FillAsync(text);
        await search.PressAsync("Enter");
        await Assertions.Expect(Page.Locator($"[data-testid^='queue-link-{text}']").First).ToBeVisibleAsync();
        // Applied: no row of another queue is left. (Typing on before that would race the search
        // box's own re-render, which writes the text it searched for back into the box.)
        await Assertions.Expect(Page.Locator($"[data-testid^='queue-link-']:not([data-testid*='{text}'])")).ToHaveCountAsync(0);
    }

    private static Regex SignInUrl() => SignInUrlPattern();

    [GeneratedRegex("/signin")]
    private static partial Regex SignInUrlPattern();

    private static string Queue(string user) => "queue.user." + user;

    private async Task<long> ConsumersAsync(string user) => (await system.Broker.InspectAsync(Queue(user))) is { } queue ? queue.ConsumerCount : -1;

    private async Task CreateQueueAsync(string user)
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = user })).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, CommandTimeout, $"{user} is consumed");
    }

    private async Task<string> SendAsync(string user, int seq)
    {
        var response = await system.Api.PostAsJsonAsync("/send-message", new { userId = user, callbackUrl = system.Sink.UrlFor(user), payload = new { seq } });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!;
    }

    public async Task DisposeAsync() => await _browser.DisposeAsync();
}
