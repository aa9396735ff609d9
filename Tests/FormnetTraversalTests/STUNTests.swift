import FormnetKit
import Foundation
import Testing
import WireGuard
@testable import FormnetTraversal

@Suite struct STUNTests {
    // RFC 5769 §2.2 and §2.3: the sample responses' transaction id and mapped addresses.
    let transaction: [UInt8] = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae]

    @Test func requestLayout() {
        #expect(STUNMessage.request(transaction: transaction) ==
                [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42] + transaction)
        #expect(STUNMessage.parseRequest(STUNMessage.request(transaction: transaction)) == transaction)
    }

    @Test func ipv4ResponseMatchesRFC5769() {
        let response = STUNMessage.response(transaction: transaction, observed: Endpoint("192.0.2.1:32853")!)
        #expect(response == [0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42] + transaction
                + [0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43])
        #expect(STUNMessage.parseResponse(response, transaction: transaction) == Endpoint("192.0.2.1:32853"))
    }

    @Test func ipv6ResponseMatchesRFC5769() {
        let observed = Endpoint("[2001:db8:1234:5678:11:2233:4455:6677]:32853")!
        let response = STUNMessage.response(transaction: transaction, observed: observed)
        #expect(response.count == 20 + 24)
        #expect(Array(response.suffix(24)) == [0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
                                               0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
                                               0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9])
        #expect(STUNMessage.parseResponse(response, transaction: transaction) == observed)
    }

    @Test func plainMappedAddressIsAcceptedFromOlderServers() {
        // Header with length 12, then MAPPED-ADDRESS 192.0.2.1:32853 in the clear.
        let response: [UInt8] = [0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42] + transaction
            + [0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x80, 0x55, 0xc0, 0x00, 0x02, 0x01]
        #expect(STUNMessage.parseResponse(response, transaction: transaction) == Endpoint("192.0.2.1:32853"))
    }

    @Test func malformedMessagesAreRefused() {
        let good = STUNMessage.response(transaction: transaction, observed: Endpoint("192.0.2.1:1")!)
        #expect(STUNMessage.parseResponse(good, transaction: [UInt8](repeating: 0, count: 12)) == nil)
        #expect(STUNMessage.parseResponse(Array(good.dropLast()), transaction: transaction) == nil)
        var badCookie = good
        badCookie[4] = 0
        #expect(STUNMessage.parseResponse(badCookie, transaction: transaction) == nil)
        var overlong = good
        overlong[23] = 0x40
        #expect(STUNMessage.parseResponse(overlong, transaction: transaction) == nil)
        #expect(STUNMessage.parseRequest(good) == nil)
        #expect(STUNMessage.parseRequest([]) == nil)
    }

    @Test func randomInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count >= 20 && Bool.random(using: &generator) {
                // Plausible headers reach the attribute parser.
                bytes.replaceSubrange(0..<8, with: [0x01, 0x01, 0x00, UInt8((bytes.count - 20) & 0xFC), 0x21, 0x12, 0xa4, 0x42])
                bytes.replaceSubrange(8..<20, with: transaction)
            }
            _ = STUNMessage.parseResponse(bytes, transaction: transaction)
            _ = STUNMessage.parseRequest(bytes)
        }
    }

    @Test func probeAndResponderOverLoopback() throws {
        let first = try STUNResponder(port: 0, family: AF_INET)
        let second = try STUNResponder(port: 0, family: AF_INET)
        first.start()
        second.start()
        defer {
            first.stop()
            second.stop()
        }
        let socket = try DatagramSocket()
        let observers = [Endpoint("127.0.0.1:\(first.port)")!, Endpoint("127.0.0.1:\(second.port)")!]
        let seen = try STUNProbe.observe(observers: observers, from: socket)
        #expect(seen.count == 2)
        #expect(Set(seen.map(\.seen)) == [Endpoint("127.0.0.1:\(socket.localPort)")!])
        #expect(Set(seen.map(\.destination)) == Set(observers))
        // Loopback is no NAT: the observed address is our own, on our own port.
        #expect(NatTypeInference.infer(localPort: socket.localPort, localAddresses: [IPAddress("127.0.0.1")!],
                                       observations: seen) == .open)
    }

    @Test func silentObserversAreLeftOut() throws {
        let silent = try DatagramSocket()
        let socket = try DatagramSocket()
        let seen = try STUNProbe.observe(observers: [Endpoint("127.0.0.1:\(silent.localPort)")!], from: socket, timeout: 0.2)
        #expect(seen.isEmpty)
    }
}
