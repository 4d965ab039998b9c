using System.ComponentModel.DataAnnotations;

namespace UserQueues.Worker.Delivery;

/// <summary>How callbacks are made (section <c>Delivery</c>).</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>Whole-request timeout of one callback attempt.</summary>
    [Range(1, 300)]
    public int TimeoutSeconds { get; set; } = 15;

    /// <summary>Time allowed to open the TCP (and TLS) connection.</summary>
    [Range(1, 60)]
    public int ConnectTimeoutSeconds { get; set; } = 5;

    /// <summary>At most this much of a receiver's response is read (and kept for diagnostics).</summary>
    [Range(0, 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 64 * 1024;

    /// <summary>Connections kept open to one receiver.</summary>
    [Range(1, 10_000)]
    public int MaxConnectionsPerServer { get; set; } = 256;
}
