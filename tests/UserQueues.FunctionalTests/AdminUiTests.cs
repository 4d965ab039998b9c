using System.Net;

namespace UserQueues.FunctionalTests;

[Collection(UserQueuesAppGroup.Name)]
public sealed class AdminUiTests(UserQueuesAppFixture system)
{
    [Fact]
    public async Task TheAdminAppStartsAndServesItsPageWithFluentStyles()
    {
        using var admin = system.App.CreateHttpClient("admin");

        var page = await admin.GetStringAsync("/");
        Assert.Contains("UserQueues admin", page);

        // Fluent UI's stylesheet is served with content (a Blazor app outside Development serves
        // 0-byte static assets unless static web assets are enabled).
        var stylesheet = System.Text.RegularExpressions.Regex.Match(page, "href=\"([^\"]*Microsoft.FluentUI[^\"]*\\.css)\"").Groups[1].Value;
        Assert.NotEmpty(stylesheet);
        var css = await admin.GetAsync(stylesheet);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.True((await css.Content.ReadAsByteArrayAsync()).Length > 1000);
    }
}
