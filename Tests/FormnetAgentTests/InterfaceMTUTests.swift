import RelayWire
import Testing
@testable import FormnetAgent

@Suite struct InterfaceMTUTests {
    /// WireGuard's data message adds 32 bytes; IPv6 and UDP add 48.
    static let wireGuardOverhead = 32
    static let ipv6UDP = 48

    @Test func aFullSizeRelayedPacketFitsA1500BytePathOverIPv6() {
        let relayed = Int(AgentOptions.relayFallbackMTU) + Self.wireGuardOverhead + DataFrameHeader.length + Self.ipv6UDP
        #expect(relayed <= 1500)
        #expect(AgentOptions.defaultMTU(relayFallback: true) == AgentOptions.relayFallbackMTU)
    }

    @Test func withoutRelayFallbackWireGuardsUsualMTUIsKept() {
        #expect(AgentOptions.defaultMTU(relayFallback: false) == 1420)
        #expect(Int(AgentOptions.defaultMTU) + Self.wireGuardOverhead + Self.ipv6UDP == 1500)
    }
}
