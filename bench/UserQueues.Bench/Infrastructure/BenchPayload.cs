using System.Text;
using System.Text.Json;

namespace UserQueues.Bench.Infrastructure;

/// <summary>
/// The payload of every bench message, the same for the system and the baseline:
/// <c>{"u":user,"s":sequence,"t":sentTimestamp,"pad":"xxx…"}</c>, padded to a fixed size.
/// </summary>
public static class BenchPayload
{
    public static byte[] Create(int user, int sequence, long sentTimestamp, int size)
    {
        var head = $$"""{"u":{{user}},"s":{{sequence}},"t":{{sentTimestamp}},"pad":""";
        var padding = Math.Max(0, size - head.Length - 2);
        return Encoding.UTF8.GetBytes(head + "\"" + new string('x', padding) + "\"}");
    }

    /// <summary>Reads the user, sequence and send timestamp back from a payload element.</summary>
    public static (int User, int Sequence, long Sent) Read(JsonElement payload) =>
        (payload.GetProperty("u").GetInt32(), payload.GetProperty("s").GetInt32(), payload.GetProperty("t").GetInt64());
}
