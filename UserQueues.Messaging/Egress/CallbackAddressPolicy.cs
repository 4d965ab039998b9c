using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace UserQueues.Messaging.Egress;

/// <summary>How far a blocked range can be opened by configuration.</summary>
public enum BlockedRangeKind
{
    /// <summary>Loopback, RFC 1918, carrier-grade NAT, unique-local: opened by <c>Delivery:AllowPrivateNetworks</c> or <c>Delivery:AllowedNetworks</c>.</summary>
    Private,

    /// <summary>Reserved, documentation, benchmarking and transition ranges: opened only by <c>Delivery:AllowedNetworks</c>.</summary>
    Special,

    /// <summary>Link-local (cloud metadata), unspecified, multicast, broadcast: never a callback destination.</summary>
    Never,
}

/// <summary>A network callbacks may not reach unless configuration says so.</summary>
public sealed record BlockedRange(IPNetwork Network, string Name, BlockedRangeKind Kind);

/// <summary>
/// The one decision on where a callback may connect, used by the API (literal IPs at submit time)
/// and by the worker's connect callback (every resolved address, at connect time, so DNS rebinding
/// cannot get around it). Follows OWASP's SSRF prevention advice
/// (https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html)
/// and the IANA special-purpose address registries
/// (https://www.iana.org/assignments/iana-ipv4-special-registry/, .../iana-ipv6-special-registry/).
/// </summary>
public sealed class CallbackAddressPolicy
{
    /// <summary>Most specific first: the first range that contains an address names it.</summary>
    private static readonly BlockedRange[] Ranges =
    [
        Range("0.0.0.0/8", "unspecified", BlockedRangeKind.Never),
        Range("10.0.0.0/8", "private", BlockedRangeKind.Private),
        Range("100.64.0.0/10", "carrier-grade NAT", BlockedRangeKind.Private),
        Range("127.0.0.0/8", "loopback", BlockedRangeKind.Private),
        Range("169.254.0.0/16", "link-local, cloud metadata", BlockedRangeKind.Never),
        Range("172.16.0.0/12", "private", BlockedRangeKind.Private),
        Range("192.0.0.0/24", "reserved, IETF protocol assignments", BlockedRangeKind.Special),
        Range("192.0.2.0/24", "documentation", BlockedRangeKind.Special),
        Range("192.88.99.0/24", "reserved, 6to4 relay", BlockedRangeKind.Special),
        Range("192.168.0.0/16", "private", BlockedRangeKind.Private),
        Range("198.18.0.0/15", "reserved, benchmarking", BlockedRangeKind.Special),
        Range("198.51.100.0/24", "documentation", BlockedRangeKind.Special),
        Range("203.0.113.0/24", "documentation", BlockedRangeKind.Special),
        Range("224.0.0.0/4", "multicast", BlockedRangeKind.Never),
        Range("255.255.255.255/32", "broadcast", BlockedRangeKind.Never),
        Range("240.0.0.0/4", "reserved", BlockedRangeKind.Special),

        Range("::/128", "unspecified", BlockedRangeKind.Never),
        Range("::1/128", "loopback", BlockedRangeKind.Private),
        Range("64:ff9b:1::/48", "reserved, local-use NAT64", BlockedRangeKind.Special),
        Range("100::/64", "reserved, discard-only", BlockedRangeKind.Special),
        Range("2001:db8::/32", "documentation", BlockedRangeKind.Special),
        Range("2001::/23", "reserved, IETF protocol assignments (Teredo, benchmarking, ORCHID)", BlockedRangeKind.Special),
        Range("2002::/16", "reserved, 6to4", BlockedRangeKind.Special),
        Range("3fff::/20", "documentation", BlockedRangeKind.Special),
        Range("fc00::/7", "unique-local", BlockedRangeKind.Private),
        Range("fe80::/10", "link-local", BlockedRangeKind.Never),
        Range("ff00::/8", "multicast", BlockedRangeKind.Never),
    ];

    /// <summary>Global unicast: IPv6 outside it is not reachable on the internet.</summary>
    private static readonly IPNetwork GlobalUnicast = IPNetwork.Parse("2000::/3");

    /// <summary>NAT64 well-known prefix: the last 32 bits are an IPv4 address (RFC 6052).</summary>
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    private static readonly BlockedRange ReservedIPv6 = new(GlobalUnicast, "reserved, outside global unicast 2000::/3", BlockedRangeKind.Special);

    private readonly bool _allowPrivateNetworks;
    private readonly IPNetwork[] _allowedNetworks;

    public CallbackAddressPolicy(bool allowPrivateNetworks, IEnumerable<IPNetwork> allowedNetworks)
    {
        _allowPrivateNetworks = allowPrivateNetworks;
        _allowedNetworks = [.. allowedNetworks];
    }

    public CallbackAddressPolicy(IOptions<CallbackEgressOptions> options)
        : this(options.Value.AllowPrivateNetworks, options.Value.ParseAllowedNetworks())
    {
    }

    /// <summary>Nothing opened: only public addresses. What a policy without configuration does.</summary>
    public static CallbackAddressPolicy PublicOnly { get; } = new(false, []);

    /// <summary>
    /// Null when a callback may connect to <paramref name="address"/>; else a sentence saying why
    /// not and how to allow it (for the dead-letter reason and the API's problem details).
    /// </summary>
    public string? Refuse(IPAddress address)
    {
        var normal = Normalize(address);
        if (Classify(normal) is not { } range)
        {
            return null;
        }

        if (range.Kind == BlockedRangeKind.Never)
        {
            return $"destination {normal} is in a blocked network ({range.Name}); it is never allowed";
        }

        if ((range.Kind == BlockedRangeKind.Private && _allowPrivateNetworks) || _allowedNetworks.Any(n => n.Contains(normal)))
        {
            return null;
        }

        return range.Kind == BlockedRangeKind.Private
            ? $"destination {normal} is in a blocked network ({range.Name}); allow it with Delivery:AllowedNetworks (or Delivery:AllowPrivateNetworks)"
            : $"destination {normal} is in a blocked network ({range.Name}); allow it with Delivery:AllowedNetworks";
    }

    /// <summary>
    /// The address a connection would really reach: IPv4-mapped (<c>::ffff:a.b.c.d</c>) and NAT64
    /// (<c>64:ff9b::a.b.c.d</c>) IPv6 addresses become their IPv4 address; an IPv6 scope is dropped.
    /// </summary>
    public static IPAddress Normalize(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return Nat64.Contains(address) ? new IPAddress(bytes[12..]) : new IPAddress(bytes);
    }

    /// <summary>The blocked range an (already normalised) address is in, or null for a public address.</summary>
    public static BlockedRange? Classify(IPAddress address)
    {
        foreach (var range in Ranges)
        {
            if (range.Network.BaseAddress.AddressFamily == address.AddressFamily && range.Network.Contains(address))
            {
                return range;
            }
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && !GlobalUnicast.Contains(address) ? ReservedIPv6 : null;
    }

    /// <summary>The never-allowed range an allow-list entry overlaps, if any (configuration cannot open those).</summary>
    public static BlockedRange? OverlapsNeverAllowed(IPNetwork network) =>
        Ranges.FirstOrDefault(r => r.Kind == BlockedRangeKind.Never
            && r.Network.BaseAddress.AddressFamily == network.BaseAddress.AddressFamily
            && (r.Network.Contains(network.BaseAddress) || network.Contains(r.Network.BaseAddress)));

    private static BlockedRange Range(string cidr, string name, BlockedRangeKind kind) => new(IPNetwork.Parse(cidr), name, kind);
}
