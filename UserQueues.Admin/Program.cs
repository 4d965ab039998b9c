using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.FluentUI.AspNetCore.Components;
using UserQueues.Admin.Components;
using UserQueues.Admin.Services;

var builder = WebApplication.CreateBuilder(args);

// Outside Development the static web assets manifest is not loaded by default; without it the
// library files under _content/ (Fluent UI CSS/JS) are served empty when running from the build output.
builder.WebHost.UseStaticWebAssets();

builder.AddServiceDefaults();
builder.AddUserQueuesApiClient();
builder.AddAdminSignIn();

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddFluentUIComponents();

var app = builder.Build();

app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapAdminSignIn();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.MapDefaultEndpoints();

app.Run();
