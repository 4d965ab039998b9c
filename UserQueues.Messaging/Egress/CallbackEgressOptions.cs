using System.Net;
using Microsoft.Extensions.Options;

namespace UserQueues.Messaging.Egress;

/// <summary>
/// Where callbacks may go (section <c>Delivery</c>, shared by the API and the worker so that both
/// apply the same rules). Blocked by default: every private, loopback, link-local and special range.
/// </summary>
public sealed class CallbackEgressOptions
{
    public const string SectionName = "Delivery";

    /// <summary>
    /// Opens loopback, RFC 1918, carrier-grade NAT and unique-local ranges. For local development
    /// only (the worker's Development launch profile sets it); link-local stays blocked.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>CIDRs of internal receivers that callbacks may reach, e.g. <c>10.20.0.0/16</c> or <c>127.0.0.1/32</c>.</summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>The allow-list parsed; a single address counts as /32 (or /128).</summary>
    public IEnumerable<IPNetwork> ParseAllowedNetworks() => AllowedNetworks
        .Where(text => !string.IsNullOrWhiteSpace(text))
        .Select(text => TryParseNetwork(text, out var network) ? network : throw new OptionsValidationException(
            SectionName, typeof(CallbackEgressOptions), [$"Delivery:AllowedNetworks entry '{text}' is not a CIDR."]));

    public static bool TryParseNetwork(string text, out IPNetwork network)
    {
        text = text.Trim();
        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }

        if (!text.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }
}

/// <summary>Stops a service at start when the allow-list cannot be used, naming the entry.</summary>
internal sealed class CallbackEgressOptionsValidator : IValidateOptions<CallbackEgressOptions>
{
    public ValidateOptionsResult Validate(string? name, CallbackEgressOptions options)
    {
        var failures = new List<string>();
        foreach (var text in options.AllowedNetworks.Where(t => !string.IsNullOrWhiteSpace(t)))
        {
            if (!CallbackEgressOptions.TryParseNetwork(text, out var network))
            {
                failures.Add($"Delivery:AllowedNetworks entry '{text}' is not a CIDR such as 10.20.0.0/16 or 127.0.0.1/32.");
            }
            else if (CallbackAddressPolicy.OverlapsNeverAllowed(network) is { } range)
            {
                failures.Add($"Delivery:AllowedNetworks entry '{text}' overlaps {range.Network} ({range.Name}), which callbacks may never reach; list narrower networks.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
