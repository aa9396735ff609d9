import Foundation
import Testing
@testable import RelayServer

/// The channel sockets' ports on loopback: only from `--channel-ports`, each once, none when the
/// range is used up.
@Suite struct ChannelSocketsTests {
    @Test func portRangesParse() {
        #expect(PortRange.parse("51822-52845") == 51822...52845)
        #expect(PortRange.parse("7-7") == 7...7)
        for bad in ["", "5", "5-", "-5", "0-10", "10-5", "1-65536", "a-b", "1-2-3", " 1-2"] {
            #expect(PortRange.parse(bad) == nil, "\(bad)")
        }
    }

    /// Two adjacent ports nobody on this host holds now.
    static func freePair() throws -> ClosedRange<UInt16> {
        // A socket closes when released (UDPRelaySocket's deinit): each probe is gone by the next line.
        for _ in 0..<50 {
            let low = try UDPRelaySocket(port: 0, host: "127.0.0.1").boundPort
            guard low < UInt16.max, (try? UDPRelaySocket(port: low + 1, host: "127.0.0.1")) != nil else { continue }
            return low...(low + 1)
        }
        throw RelaySocketError("no two adjacent free ports")
    }

    @Test func opensOnlyInsideTheRangeUntilItIsUsedUp() throws {
        let main = try UDPRelaySocket(port: 0, host: "127.0.0.1")
        let range = try Self.freePair()
        let sockets = try ChannelSockets(like: main, ports: range)
        let first = try #require(sockets.open())
        let second = try #require(sockets.open())
        #expect(Set([first.port, second.port]) == Set(range))
        #expect(sockets.open() == nil)
        sockets.close(first.descriptor)
        sockets.close(second.descriptor)
    }
}
