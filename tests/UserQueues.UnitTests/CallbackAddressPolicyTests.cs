using System.Net;
using UserQueues.Messaging.Egress;

namespace UserQueues.UnitTests;

public class CallbackAddressPolicyTests
{
    private static CallbackAddressPolicy Allowing(bool privateNetworks, params string[] networks) =>
        new(privateNetworks, networks.Select(IPNetwork.Parse));

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.0.9", "loopback")]
    [InlineData("10.0.0.1", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.254", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("100.64.0.1", "carrier-grade NAT")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("192.0.2.10", "documentation")]
    [InlineData("198.51.100.7", "documentation")]
    [InlineData("203.0.113.7", "documentation")]
    [InlineData("198.18.0.1", "reserved, benchmarking")]
    [InlineData("::1", "loopback")]
    [InlineData("::", "unspecified")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fd00::1", "unique-local")]
    [InlineData("fc00::1", "unique-local")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("2001:db8::1", "documentation")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:10.0.0.1", "private")]
    [InlineData("::ffff:169.254.169.254", "link-local")]
    [InlineData("64:ff9b::a00:1", "private")]
    [InlineData("::127.0.0.1", "reserved")]
    [InlineData("2002:7f00:1::1", "reserved, 6to4")]
    public void BlockedAddressesAreRefusedNamingTheirNetwork(string address, string network)
    {
        var reason = CallbackAddressPolicy.PublicOnly.Refuse(IPAddress.Parse(address));

        Assert.NotNull(reason);
        Assert.Contains($"is in a blocked network ({network}", reason);
    }

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    public void PublicAddressesAreAllowed(string address) =>
        Assert.Null(CallbackAddressPolicy.PublicOnly.Refuse(IPAddress.Parse(address)));

    [Fact]
    public void TheRefusalSaysWhichAddressAndHowToAllowIt()
    {
        var reason = CallbackAddressPolicy.PublicOnly.Refuse(IPAddress.Parse("10.0.0.1"));
        Assert.StartsWith("destination 10.0.0.1 is in a blocked network (private); allow it with Delivery:AllowedNetworks", reason);
    }

    [Fact]
    public void IPv4MappedAddressesAreNormalisedBeforeTheyAreChecked()
    {
        Assert.Equal(IPAddress.Parse("127.0.0.1"), CallbackAddressPolicy.Normalize(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), CallbackAddressPolicy.Normalize(IPAddress.Parse("64:ff9b::10.0.0.1")));
        Assert.Contains("destination 127.0.0.1 ", CallbackAddressPolicy.PublicOnly.Refuse(IPAddress.Parse("::ffff:127.0.0.1")));
    }

    [Fact]
    public void AllowingPrivateNetworksOpensThemButNotLinkLocal()
    {
        var policy = Allowing(privateNetworks: true);

        Assert.Null(policy.Refuse(IPAddress.Parse("127.0.0.1")));
        Assert.Null(policy.Refuse(IPAddress.Parse("10.1.2.3")));
        Assert.Null(policy.Refuse(IPAddress.Parse("::1")));
        Assert.Null(policy.Refuse(IPAddress.Parse("fd12::1")));
        Assert.Contains("never allowed", policy.Refuse(IPAddress.Parse("169.254.169.254")));
        Assert.Contains("never allowed", policy.Refuse(IPAddress.Parse("fe80::1")));
        Assert.Contains("never allowed", policy.Refuse(IPAddress.Parse("::ffff:169.254.169.254")));
        Assert.Contains("never allowed", policy.Refuse(IPAddress.Parse("0.0.0.0")));
        Assert.NotNull(policy.Refuse(IPAddress.Parse("192.0.2.1")));
    }

    [Fact]
    public void AnAllowListOpensExactlyItsNetworks()
    {
        var policy = Allowing(false, "10.20.0.0/16", "127.0.0.1/32", "192.0.2.0/24");

        Assert.Null(policy.Refuse(IPAddress.Parse("10.20.5.6")));
        Assert.Null(policy.Refuse(IPAddress.Parse("::ffff:10.20.5.6")));
        Assert.Null(policy.Refuse(IPAddress.Parse("127.0.0.1")));
        Assert.Null(policy.Refuse(IPAddress.Parse("192.0.2.1")));
        Assert.NotNull(policy.Refuse(IPAddress.Parse("10.21.0.1")));
        Assert.NotNull(policy.Refuse(IPAddress.Parse("127.0.0.2")));
        Assert.NotNull(policy.Refuse(IPAddress.Parse("::1")));
    }

    [Theory]
    [InlineData("not-a-network", "is not a CIDR")]
    [InlineData("10.0.0.0/33", "is not a CIDR")]
    [InlineData("169.254.0.0/16", "never reach")]
    [InlineData("169.254.169.254", "never reach")]
    [InlineData("0.0.0.0/0", "never reach")]
    [InlineData("fe80::/64", "never reach")]
    public void AnUnusableAllowListStopsTheServiceNamingTheEntry(string entry, string says)
    {
        var result = new CallbackEgressOptionsValidator().Validate(null, new CallbackEgressOptions { AllowedNetworks = [entry] });

        Assert.True(result.Failed);
        Assert.Contains(entry, result.FailureMessage);
        Assert.Contains(says, result.FailureMessage);
    }

    [Fact]
    public void ASingleAddressInTheAllowListCountsAsItsOwnNetwork()
    {
        Assert.True(new CallbackEgressOptionsValidator().Validate(null, new CallbackEgressOptions { AllowedNetworks = ["127.0.0.1", "fd00::/8"] }).Succeeded);
        var policy = new CallbackAddressPolicy(Microsoft.Extensions.Options.Options.Create(new CallbackEgressOptions { AllowedNetworks = ["127.0.0.1"] }));
        Assert.Null(policy.Refuse(IPAddress.Loopback));
        Assert.NotNull(policy.Refuse(IPAddress.Parse("127.0.0.2")));
    }

    [Theory]
    [InlineData("http://127.0.0.1/x", "127.0.0.1", "loopback")]
    [InlineData("http://10.0.0.1/x", "10.0.0.1", "private")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local")]
    [InlineData("http://[::1]:8080/x", "::1", "loopback")]
    [InlineData("http://[::ffff:127.0.0.1]/x", "127.0.0.1", "loopback")]
    [InlineData("http://2130706433/x", "127.0.0.1", "loopback")]
    [InlineData("http://0x7f.1/x", "127.0.0.1", "loopback")]
    [InlineData("http://0177.0.0.1/x", "127.0.0.1", "loopback")]
    [InlineData("http://127.1/x", "127.0.0.1", "loopback")]
    [InlineData("http://127.0.0.1./x", "127.0.0.1", "loopback")]
    [InlineData("http://0x7f.1./x", "127.0.0.1", "loopback")]
    [InlineData("https://[fe80::1%25eth0]/x", "fe80::1", "link-local")]
    public void CallbackUrlsWithABlockedLiteralAddressAreRefusedInEverySpelling(string url, string address, string network)
    {
        var problem = CallbackUrls.Check(url, CallbackAddressPolicy.PublicOnly, out var parsed);

        Assert.Null(parsed);
        Assert.Contains($"destination {address} is in a blocked network ({network}", problem);
    }

    [Theory]
    [InlineData("http://localhost:3001/_test/callback")]
    [InlineData("https://example.com/hook")]
    [InlineData("http://93.184.215.14/hook")]
    public void HostNamesAndPublicAddressesPassTheSubmitCheck(string url)
    {
        Assert.Null(CallbackUrls.Check(url, CallbackAddressPolicy.PublicOnly, out var parsed));
        Assert.NotNull(parsed);
    }
}
