import Foundation
import RelayWire
import RelayServer
import RelayClient
import Testing
import WireGuard

@Suite struct StatusEndpointTests {
    private func relayWithTraffic() -> RelayState {
        var configuration = RelayConfiguration()
        configuration.cookiesAfterStartMillis = 0
        var state = RelayState(relayKey: Fixture.relayKey, configuration: configuration, policy: .open, now: Fixture.now)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RelayWire.maxFrame, alignment: 16)
        defer { buffer.deallocate() }
        var alice = RelayClientProtocol(clientKey: Fixture.aliceKey, relayKey: Fixture.relayKey.publicKey)
        var frame = alice.makeRegister(nowMillis: Fixture.now.wallMillis)
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        if case .reply(let n) = state.handle(buffer, length: frame.count, from: .udp(Fixture.aliceAddress), observed: Fixture.aliceAddress, now: Fixture.now) {
            let reply = Array(buffer[0..<n])
            _ = reply.withUnsafeBytes { alice.receive($0, nowMillis: Fixture.now.wallMillis) }
        }
        frame = alice.wrap([1], to: Fixture.keyB, nowMillis: Fixture.now.wallMillis)
        frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
        var spoofer = Fixture.aliceAddress
        spoofer.port += 1
        _ = state.handle(buffer, length: frame.count, from: .udp(spoofer), observed: spoofer, now: Fixture.now)
        return state
    }

    @Test func metricsAreInPrometheusTextFormat() {
        let (status, type, body) = RelayStatusServer.respond(to: "/metrics", state: relayWithTraffic(), uptimeSeconds: 5, nowMillis: Fixture.now.wallMillis, peerDetail: true)
        let text = String(decoding: body, as: UTF8.self)
        #expect(status == .ok)
        #expect(type == "text/plain; version=0.0.4")
        #expect(text.contains("# TYPE formnet_relay_drops_total counter\n"))
        #expect(text.contains("formnet_relay_drops_total{reason=\"spoofed-session\"} 1\n"))
        #expect(text.contains("formnet_relay_registrations_total 1\n"))
        #expect(text.contains("formnet_relay_frames_received_total{type=\"data\"} 1\n"))
        #expect(text.contains("formnet_relay_sessions 1\n"))
        #expect(text.contains("formnet_relay_limit_hits_total{limit=\"bandwidth\"} 0\n"))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "not `name value`: \(line)")
        }
    }

    @Test func statusAndPeerDetail() throws {
        let state = relayWithTraffic()
        let (_, _, statusBody) = RelayStatusServer.respond(to: "/status", state: state, uptimeSeconds: 5, nowMillis: Fixture.now.wallMillis, peerDetail: true)
        let status = try #require(try JSONSerialization.jsonObject(with: Data(statusBody)) as? [String: Any])
        #expect(status["status"] as? String == "ok")
        #expect(status["connected_peers"] as? Int == 1)
        #expect(status["public_key"] as? String == Fixture.relayKey.publicKey.base64)
        #expect(status["uptime_seconds"] as? Double == 5)

        let urlSafe = Fixture.aliceKey.publicKey.base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let (peerStatus, _, peerBody) = RelayStatusServer.respond(to: "/peers/" + urlSafe, state: state, uptimeSeconds: 5, nowMillis: Fixture.now.wallMillis + 2_000, peerDetail: true)
        #expect(peerStatus == .ok)
        let peer = try #require(try JSONSerialization.jsonObject(with: Data(peerBody)) as? [String: Any])
        #expect(peer["transport"] as? String == "udp")
        #expect(peer["observed_address"] as? String == "198.51.100.7:40000")
        #expect(peer["idle_seconds"] as? Double == 2)

        let escaped = Fixture.bobKey.publicKey.base64.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        #expect(RelayStatusServer.respond(to: "/peers/" + escaped, state: state, uptimeSeconds: 5, nowMillis: 0, peerDetail: true).0 == .notFound)
        #expect(RelayStatusServer.respond(to: "/peers/nonsense", state: state, uptimeSeconds: 5, nowMillis: 0, peerDetail: true).0 == .badRequest)
        #expect(RelayStatusServer.respond(to: "/nowhere", state: state, uptimeSeconds: 5, nowMillis: 0, peerDetail: true).0 == .notFound)
    }

    @Test func peerDetailIsServedOnlyWhenAskedFor() {
        let state = relayWithTraffic()
        let key = Fixture.aliceKey.publicKey.base64.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        for path in ["/peers", "/peers/" + key] {
            let (status, _, body) = RelayStatusServer.respond(to: path, state: state, uptimeSeconds: 5, nowMillis: 0, peerDetail: false)
            #expect(status == .forbidden)
            #expect(String(decoding: body, as: UTF8.self).contains("--status-peers"))
            #expect(!String(decoding: body, as: UTF8.self).contains(Fixture.aliceKey.publicKey.base64))
        }
        #expect(RelayStatusServer.respond(to: "/status", state: state, uptimeSeconds: 5, nowMillis: 0, peerDetail: false).0 == .ok)
        #expect(RelayStatusServer.respond(to: "/metrics", state: state, uptimeSeconds: 5, nowMillis: 0, peerDetail: false).0 == .ok)
    }
}
