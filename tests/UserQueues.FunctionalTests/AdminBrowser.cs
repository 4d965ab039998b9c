using Microsoft.Playwright;

namespace UserQueues.FunctionalTests;

/// <summary>
/// Debian's Chromium driven by Playwright for .NET. The browser is the system's (ExecutablePath):
/// Playwright's own browser download is never used. test.sh installs the package when missing.
/// </summary>
public sealed class AdminBrowser : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private AdminBrowser(IPlaywright playwright, IBrowser browser, IBrowserContext context, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        Context = context;
        Page = page;
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    /// <summary>Where screenshots are saved: a test artifact beside the test assembly.</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public static async Task<AdminBrowser> LaunchAsync(Uri adminBaseAddress)
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install Debian's chromium package (test.sh does).");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = adminBaseAddress.AbsoluteUri,
            ViewportSize = new ViewportSize { Width = 1600, Height = 1000 },
        });
        // A loaded CI machine shares two cores between several builds: generous, but bounded.
        context.SetDefaultTimeout(30_000);
        Assertions.SetDefaultExpectTimeout(30_000);
        return new AdminBrowser(playwright, browser, context, await context.NewPageAsync());
    }

    /// <summary>Signs in through the sign-in form with <paramref name="apiKey"/>.</summary>
    public async Task SignInAsync(string apiKey)
    {
        await Page.GotoAsync("signin");
        await Page.Locator("[name=apiKey] input, input[name=apiKey]").First.FillAsync(apiKey);
        await Page.Locator("[data-testid=signin-form] [type=submit]").First.ClickAsync();
    }

    /// <summary>Waits until the queues page is interactive (its circuit connected), not just prerendered.</summary>
    public Task WaitForQueuesPageAsync() =>
        Assertions.Expect(Page.Locator("[data-testid=queues-page][data-interactive=true]")).ToBeVisibleAsync();

    public async Task ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });
    }

    public async ValueTask DisposeAsync()
    {
        await Context.DisposeAsync();
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
