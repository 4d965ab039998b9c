using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace UserQueues.Admin.Services;

/// <summary>
/// Sign-in with the admin API key: the API itself checks the key; a valid one is kept in the
/// session cookie (encrypted and signed by ASP.NET Core Data Protection, HttpOnly, SameSite=Strict)
/// and sent as <c>x-api-key</c> on every admin call made for that operator.
/// </summary>
public static class AdminSignIn
{
    public const string SignInPath = "/signin";
    public const string ApiKeyClaim = "userqueues:admin-api-key";

    /// <summary>Adds cookie authentication, authorization and the authentication state for components.</summary>
    public static IHostApplicationBuilder AddAdminSignIn(this IHostApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.LoginPath = SignInPath;
                options.LogoutPath = "/account/signout";
                options.Cookie.Name = "userqueues-admin";
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.ExpireTimeSpan = TimeSpan.FromHours(8);
                options.SlidingExpiration = true;
            });
        builder.Services.AddAuthorization();
        builder.Services.AddCascadingAuthenticationState();
        return builder;
    }

    /// <summary>Maps <c>POST /account/signin</c> (the sign-in form) and <c>POST /account/signout</c>.</summary>
    public static IEndpointRouteBuilder MapAdminSignIn(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account");
        account.MapPost("/signin", (Delegate)SignInAsync).WithName("SignIn");
        account.MapPost("/signout", (Delegate)SignOutAsync).WithName("SignOut");
        return app;
    }

    /// <summary>The key of the signed-in operator, or null.</summary>
    public static string? ApiKeyOf(AuthenticationState state) => state.User.FindFirst(ApiKeyClaim)?.Value;

    private static async Task<IResult> SignInAsync(
        HttpContext context, [FromForm] string? apiKey, [FromForm] string? returnUrl, UserQueuesApiClient api, CancellationToken cancellationToken)
    {
        var back = returnUrl is { Length: > 0 } && Uri.IsWellFormedUriString(returnUrl, UriKind.Relative) && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal)
            ? returnUrl
            : "/";
        if (string.IsNullOrEmpty(apiKey))
        {
            return Retry("missing", back);
        }

        bool valid;
        try
        {
            valid = await api.IsValidKeyAsync(apiKey, cancellationToken);
        }
        catch (AdminApiException)
        {
            return Retry("unavailable", back);
        }

        if (!valid)
        {
            return Retry("wrong", back);
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "admin"), new Claim(ApiKeyClaim, apiKey)],
            CookieAuthenticationDefaults.AuthenticationScheme);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return TypedResults.LocalRedirect(back);
    }

    private static async Task<IResult> SignOutAsync(HttpContext context)
    {
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.LocalRedirect(SignInPath);
    }

    private static RedirectHttpResult Retry(string error, string returnUrl) =>
        TypedResults.LocalRedirect($"{SignInPath}?error={error}&returnUrl={Uri.EscapeDataString(returnUrl)}");
}
