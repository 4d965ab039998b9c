using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.FluentUI.AspNetCore.Components;
using UserQueues.Admin.Services;

namespace UserQueues.Admin.Components;

/// <summary>
/// What every signed-in page shares: the operator's key, the API client, and one way to run an
/// action with a toast for its outcome (success, API down, key refused, or the API's own detail).
/// </summary>
public abstract class AdminPageBase : ComponentBase
{
    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    [Inject]
    protected UserQueuesApiClient Api { get; set; } = default!;

    [Inject]
    protected INotificationService Notifications { get; set; } = default!;

    [Inject]
    protected IDialogService Dialogs { get; set; } = default!;

    [Inject]
    protected NavigationManager Navigation { get; set; } = default!;

    /// <summary>The last failure of a background refresh, shown until the next success.</summary>
    protected string? RefreshError { get; private set; }

    protected async Task<string> ApiKeyAsync() =>
        AdminSignIn.ApiKeyOf(await AuthenticationState) ?? throw new AdminApiException(ApiFailure.Unauthorized, "Not signed in.");

    /// <summary>Runs an operator's action; a toast says how it went.</summary>
    protected async Task RunActionAsync(Func<string, Task<string>> action, string successTitle)
    {
        try
        {
            var message = await action(await ApiKeyAsync());
            Toast(ToastIntent.Success, successTitle, message);
        }
        catch (AdminApiException e)
        {
            ToastFailure(e);
        }
    }

    /// <summary>Runs a periodic refresh: the first failure of a streak gets a toast, the rest only the banner.</summary>
    protected async Task RefreshAsync(Func<string, Task> refresh)
    {
        try
        {
            await refresh(await ApiKeyAsync());
            RefreshError = null;
        }
        catch (AdminApiException e)
        {
            if (RefreshError is null)
            {
                ToastFailure(e);
            }

            RefreshError = e.Message;
        }
    }

    protected void ToastFailure(AdminApiException e)
    {
        var title = e.Failure switch
        {
            ApiFailure.Unauthorized => "Admin key refused",
            ApiFailure.Unavailable => "API unavailable",
            _ => "Action refused",
        };
        Toast(ToastIntent.Error, title, e.Message);
    }

    /// <summary>
    /// Shows a toast without waiting for it to close (the service's task completes when the toast
    /// does, seconds later).
    /// </summary>
    protected void Toast(ToastIntent intent, string title, string? message)
    {
        var shown = intent switch
        {
            ToastIntent.Success => Notifications.ShowSuccessToastAsync(title, message),
            ToastIntent.Error => Notifications.ShowErrorToastAsync(title, message),
            ToastIntent.Warning => Notifications.ShowWarningToastAsync(title, message),
            _ => Notifications.ShowInfoToastAsync(title, message),
        };
        _ = shown.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>Asks before a destructive action; true when the operator confirmed.</summary>
    protected async Task<bool> ConfirmAsync(string message, string title, string confirm)
    {
        var result = await Dialogs.ShowConfirmationAsync(message, title, confirm, "Cancel");
        return !result.Cancelled;
    }
}
