import Testing
@testable import WireGuard

@Suite struct IPAddressTests {
    @Test func parsesAndPrintsBothFamilies() throws {
        #expect(IPAddress("10.1.2.3") == .v4(0x0A01_0203))
        #expect(IPAddress("10.1.2.3")?.bytes == [10, 1, 2, 3])
        #expect(IPAddress("fd00::1")?.description == "fd00::1")
        #expect(IPAddress("fd00::1")?.bytes.count == 16)
        #expect(IPAddress(bytes: IPAddress("2001:db8::42")!.bytes) == IPAddress("2001:db8::42"))
        #expect(IPAddress("10.1.2") == nil)
        #expect(IPAddress("host") == nil)
    }

    @Test func networksMaskAndContain() throws {
        let net = try #require(IPNetwork("10.1.2.3/16"))
        #expect(net.canonical.description == "10.1.0.0/16")
        #expect(net.contains(IPAddress("10.1.200.1")!))
        #expect(!net.contains(IPAddress("10.2.0.1")!))
        #expect(!net.contains(IPAddress("::1")!))
        #expect(IPNetwork("fd00:1:2:3::1/56")?.canonical.description == "fd00:1:2::/56")
        #expect(IPNetwork("fd00::1/100")?.canonical.description == "fd00::/100")
        #expect(IPNetwork("10.0.0.1")?.prefixLength == 32)
        #expect(IPNetwork("::/0")?.canonical.description == "::/0")
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("10.0.0.0/+8") == nil)
        #expect(IPNetwork("10.0.0.0/8/8") == nil)
    }

    @Test func endpointsOfEitherFamily() {
        #expect(Endpoint("192.0.2.1:51820") == Endpoint(address: .v4(0xC000_0201), port: 51820))
        #expect(Endpoint("[2001:db8::1]:443")?.description == "[2001:db8::1]:443")
        #expect(Endpoint("2001:db8::1:443") == nil)
        #expect(Endpoint("[192.0.2.1]:1") == nil)
        #expect(Endpoint("192.0.2.1:65536") == nil)
        #expect(Endpoint("192.0.2.1") == nil)
    }
}
