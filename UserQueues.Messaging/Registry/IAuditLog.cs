namespace UserQueues.Messaging.Registry;

/// <summary>
/// Who did what to which queue, and when: every admin action, kept in the registry database
/// (OWASP Logging Cheat Sheet: an audit trail of administrative actions).
/// </summary>
public interface IAuditLog
{
    /// <summary>Creates the table if needed.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>Newest first; <paramref name="page"/> is 1-based.</summary>
    Task<AuditPage> ListAsync(int page, int pageSize, CancellationToken cancellationToken);
}

/// <summary>One admin action. <paramref name="Target"/> is the userId, or null for the "all" actions.</summary>
public sealed record AuditEntry(DateTimeOffset At, string Actor, string Action, string? Target, string? Detail, long Id = 0);

public sealed record AuditPage(IReadOnlyList<AuditEntry> Items, int Total);
