import Foundation
import Glibc
import Testing
@testable import WireGuard

/// WireGuard generic netlink requests and replies against linux/wireguard.h. Integers are
/// little-endian (the test hosts' byte order) except ports and addresses, which are network
/// order inside sockaddrs and allowed-IP addresses.
@Suite struct KernelMessageTests {
    typealias E = NetlinkTestEncoding
    static let family: UInt16 = 0x1b

    static func key(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }
    static func publicKey(_ byte: UInt8) -> PublicKey { PublicKey(bytes: key(byte))! }

    @Test func getDeviceRequestBytes() throws {
        #expect(try WireGuardGenl.getDeviceRequest(family: Self.family, interface: "wg0") == [
            // nlmsghdr: len 28, type = the resolved family 0x1b, flags REQUEST|ACK|DUMP 0x0305
            28, 0, 0, 0, 0x1b, 0, 0x05, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd WG_CMD_GET_DEVICE 0, version WG_GENL_VERSION 1, reserved 0
            0, 1, 0, 0,
            // WGDEVICE_A_IFNAME (2): len 8, "wg0\0"
            8, 0, 2, 0, 0x77, 0x67, 0x30, 0,
        ])
    }

    @Test func setDeviceRequestBytes() throws {
        let privateKey = Array(1...32) as [UInt8]
        let update = DeviceUpdate(
            privateKey: PrivateKey(bytes: privateKey), listenPort: 51820, fwmark: 0x20, replacePeers: true,
            peers: [
                PeerUpdate(publicKey: Self.publicKey(0xA1), presharedKey: PresharedKey(bytes: Self.key(0x5A)),
                           endpoint: Endpoint("192.0.2.1:51820"), persistentKeepalive: 25, replaceAllowedIPs: true,
                           allowedIPs: [IPNetwork("10.0.0.2/32")!, IPNetwork("fd00::2/128")!]),
                .remove(Self.publicKey(0xB2)),
            ])
        let fd00_2: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        let expected: [UInt8] = [
            // nlmsghdr: len 324 = 0x0144, type 0x1b, flags REQUEST|ACK
            0x44, 0x01, 0, 0, 0x1b, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd WG_CMD_SET_DEVICE 1, version 1
            1, 1, 0, 0,
            // WGDEVICE_A_IFNAME (2): "wg0\0"
            8, 0, 2, 0, 0x77, 0x67, 0x30, 0,
            // WGDEVICE_A_PRIVATE_KEY (3): len 36
            36, 0, 3, 0] + privateKey + [
            // WGDEVICE_A_FLAGS (5): WGDEVICE_F_REPLACE_PEERS 1
            8, 0, 5, 0, 1, 0, 0, 0,
            // WGDEVICE_A_LISTEN_PORT (6): u16 51820 = 0xCA6C, 2 bytes padding
            6, 0, 6, 0, 0x6C, 0xCA, 0, 0,
            // WGDEVICE_A_FWMARK (7): 0x20
            8, 0, 7, 0, 0x20, 0, 0, 0,
            // WGDEVICE_A_PEERS (8) | NLA_F_NESTED 0x8000: len 236
            236, 0, 8, 0x80,
            //   peer (type 0) | NLA_F_NESTED: len 184
            184, 0, 0, 0x80,
            //     WGPEER_A_PUBLIC_KEY (1): len 36
            36, 0, 1, 0] + Self.key(0xA1) + [
            //     WGPEER_A_PRESHARED_KEY (2): len 36
            36, 0, 2, 0] + Self.key(0x5A) + [
            //     WGPEER_A_FLAGS (3): WGPEER_F_REPLACE_ALLOWEDIPS 2
            8, 0, 3, 0, 2, 0, 0, 0,
            //     WGPEER_A_ENDPOINT (4): len 20, sockaddr_in: family AF_INET 2 (host order),
            //     port 51820 (network order), 192.0.2.1, 8 zero bytes
            20, 0, 4, 0, 2, 0, 0xCA, 0x6C, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            //     WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL (5): u16 25, 2 bytes padding
            6, 0, 5, 0, 25, 0, 0, 0,
            //     WGPEER_A_ALLOWEDIPS (9) | NLA_F_NESTED: len 72
            72, 0, 9, 0x80,
            //       allowed IP (type 0) | NLA_F_NESTED: len 28
            28, 0, 0, 0x80,
            //         WGALLOWEDIP_A_FAMILY (1): AF_INET 2
            6, 0, 1, 0, 2, 0, 0, 0,
            //         WGALLOWEDIP_A_IPADDR (2): 10.0.0.2
            8, 0, 2, 0, 10, 0, 0, 2,
            //         WGALLOWEDIP_A_CIDR_MASK (3): u8 32, 3 bytes padding
            5, 0, 3, 0, 32, 0, 0, 0,
            //       allowed IP | NLA_F_NESTED: len 40
            40, 0, 0, 0x80,
            //         family AF_INET6 10
            6, 0, 1, 0, 10, 0, 0, 0,
            //         address fd00::2, len 20
            20, 0, 2, 0] + fd00_2 + [
            //         cidr 128
            5, 0, 3, 0, 128, 0, 0, 0,
            //   peer | NLA_F_NESTED: len 48 — removal carries only the key and the flag
            48, 0, 0, 0x80,
            36, 0, 1, 0] + Self.key(0xB2) + [
            //     WGPEER_A_FLAGS: WGPEER_F_REMOVE_ME 1
            8, 0, 3, 0, 1, 0, 0, 0,
        ]
        let requests = try SetDeviceRequests.build(update, interface: "wg0", family: Self.family)
        #expect(requests == [expected])
    }

    @Test func emptyUpdateIsOneRequestWithTheNameOnly() throws {
        let requests = try SetDeviceRequests.build(DeviceUpdate(), interface: "wg0", family: Self.family)
        #expect(requests == [[
            28, 0, 0, 0, 0x1b, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            1, 1, 0, 0,
            8, 0, 2, 0, 0x77, 0x67, 0x30, 0,
        ]])
    }

    @Test func updateOnlyPeerCarriesItsFlag() throws {
        let update = DeviceUpdate(peers: [PeerUpdate(publicKey: Self.publicKey(1), action: .updateOnly,
                                                     endpoint: Endpoint("[2001:db8::1]:51821"))])
        let request = try #require(try SetDeviceRequests.build(update, interface: "wg0", family: Self.family).first)
        let segment = try #require(try SetRequest(request).segments.first)
        #expect(segment.flags == WireGuardGenl.Peer.updateOnly)
        #expect(segment.endpoint == Endpoint("[2001:db8::1]:51821"))
    }

    @Test func thousandPeersSplitIntoFittingRequests() throws {
        let peers = (0..<1000).map { i in
            PeerUpdate(publicKey: Self.indexedKey(i), presharedKey: PresharedKey(bytes: Self.key(0x77)),
                       endpoint: Endpoint(address: .v4(0xC000_0200 | UInt32(i % 250)), port: 51820),
                       persistentKeepalive: 25, replaceAllowedIPs: true,
                       allowedIPs: [
                           IPNetwork(address: .v4(0x0A00_0000 | UInt32(i)), prefixLength: 32)!,
                           IPNetwork(address: .v6(0xFD00_0000_0000_0000, UInt64(i)), prefixLength: 128)!,
                           IPNetwork(address: .v4(0x0AC8_0000 | UInt32(i) << 8), prefixLength: 24)!,
                       ])
        }
        let update = DeviceUpdate(privateKey: PrivateKey(bytes: Self.key(9)), listenPort: 51820,
                                  replacePeers: true, peers: peers)
        let requests = try SetDeviceRequests.build(update, interface: "wg0", family: Self.family)

        #expect(requests.count > 1)
        let decoded = try requests.map(SetRequest.init)
        for (index, (bytes, request)) in zip(requests, decoded).enumerated() {
            #expect(bytes.count <= NetlinkMessageBuilder.socketBufferSize)
            #expect(request.length == bytes.count)
            #expect(request.interface == "wg0")
            if index == 0 {
                #expect(request.deviceFlags == WireGuardGenl.Device.replacePeers)
                #expect(request.attributeTypes.contains(WireGuardGenl.Device.privateKey))
                #expect(request.attributeTypes.contains(WireGuardGenl.Device.listenPort))
            } else {
                #expect(request.attributeTypes == [WireGuardGenl.Device.ifname, WireGuardGenl.Device.peers])
            }
        }
        try Self.expectSegments(decoded.flatMap(\.segments), carry: peers)
    }

    @Test func onePeersAllowedIPsContinueAcrossRequests() throws {
        let networks = (0..<300).map { IPNetwork(address: .v6(0xFD00_0000_0000_0000, UInt64($0) << 8), prefixLength: 120)! }
        let peers = [
            PeerUpdate(publicKey: Self.publicKey(1), allowedIPs: [IPNetwork("10.0.0.1/32")!]),
            .setAllowedIPs(Self.publicKey(2), networks),
            PeerUpdate(publicKey: Self.publicKey(3), allowedIPs: [IPNetwork("10.0.0.3/32")!]),
        ]
        let requests = try SetDeviceRequests.build(DeviceUpdate(peers: peers), interface: "wg0", family: Self.family)
        let segments = try requests.map(SetRequest.init).flatMap(\.segments)
        #expect(requests.count >= 3)
        #expect(requests.allSatisfy { $0.count <= NetlinkMessageBuilder.socketBufferSize })
        let split = segments.filter { $0.key == Self.publicKey(2) }
        #expect(split.count == requests.count)
        // Continuations keep UPDATE_ONLY (the peer must still not be created by them) and drop
        // REPLACE_ALLOWEDIPS (which would delete the allowed IPs sent so far).
        #expect(split.first?.flags == WireGuardGenl.Peer.updateOnly | WireGuardGenl.Peer.replaceAllowedIPs)
        #expect(split.dropFirst().allSatisfy { $0.flags == WireGuardGenl.Peer.updateOnly })
        try Self.expectSegments(segments, carry: peers)
    }

    @Test func aPeerThatCannotFitFailsInsteadOfLooping() {
        let update = DeviceUpdate(peers: [PeerUpdate(publicKey: Self.publicKey(1))])
        #expect(throws: NetlinkFailure(errno: EMSGSIZE, message: "one peer does not fit in a 60-byte request")) {
            try SetDeviceRequests.build(update, interface: "wg0", family: Self.family, capacity: 60)
        }
    }

    @Test func endpointSocketAddresses() {
        let v4 = Endpoint("192.0.2.1:51820")!
        #expect(SocketAddress.bytes(of: v4) == [2, 0, 0xCA, 0x6C, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        let v6 = Endpoint("[2001:db8::1]:51821")!
        // sockaddr_in6: family 10, port, flowinfo 0, address, scope id 0
        #expect(SocketAddress.bytes(of: v6) == [10, 0, 0xCA, 0x6D, 0, 0, 0, 0,
                                               0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                               0, 0, 0, 0])
        #expect(SocketAddress.endpoint(from: SocketAddress.bytes(of: v4)) == v4)
        #expect(SocketAddress.endpoint(from: SocketAddress.bytes(of: v6)) == v6)
        #expect(SocketAddress.endpoint(from: Array(SocketAddress.bytes(of: v6).prefix(16))) == nil)
        #expect(SocketAddress.endpoint(from: [2, 0]) == nil)
    }

    // MARK: - GET dump parsing

    static func allowedIP(_ text: String) -> [UInt8] {
        let network = IPNetwork(text)!
        // The kernel's order: CIDR_MASK, FAMILY, IPADDR.
        return E.nest(0, [E.attribute(3, [UInt8(network.prefixLength)]),
                          E.attribute(1, E.le16(UInt16(network.address.family))),
                          E.attribute(2, network.address.bytes)])
    }

    static func timespec(_ seconds: Int64, _ nanoseconds: Int64) -> [UInt8] {
        E.le64(UInt64(bitPattern: seconds)) + E.le64(UInt64(bitPattern: nanoseconds))
    }

    static func dumpPart(_ attributes: [[UInt8]]) -> [UInt8] {
        E.message(type: family, flags: 0x02, sequence: 3, payload: E.wireGuardGetHeader + attributes.flatMap { $0 })
    }

    /// A device whose peers span three messages, the second peer's allowed IPs split across the
    /// first two, as the kernel's dump writes them.
    static let threePartDump: [UInt8] = {
        let peerA = E.nest(0, [
            E.attribute(1, key(0xA1)),
            E.attribute(2, key(0)),
            E.attribute(6, timespec(1_700_000_000, 500_000_000)),
            E.attribute(5, E.le16(25)),
            E.attribute(8, E.le64(1000)),
            E.attribute(7, E.le64(2000)),
            E.attribute(10, E.le32(1)),
            E.attribute(4, SocketAddress.bytes(of: Endpoint("192.0.2.1:51820")!)),
            E.nest(9, [allowedIP("10.0.0.2/32")]),
        ])
        let peerBFirst = E.nest(0, [
            E.attribute(1, key(0xB2)),
            E.attribute(2, key(0x5A)),
            E.attribute(6, timespec(0, 0)),
            E.attribute(5, E.le16(0)),
            E.attribute(8, E.le64(0)),
            E.attribute(7, E.le64(0)),
            E.attribute(10, E.le32(1)),
            E.attribute(4, SocketAddress.bytes(of: Endpoint("[2001:db8::1]:51821")!)),
            E.nest(9, [allowedIP("10.0.1.0/24"), allowedIP("10.0.2.0/24")]),
        ])
        let peerBRest = E.nest(0, [E.attribute(1, key(0xB2)), E.nest(9, [allowedIP("fd00:b::/64")])])
        let peerC = E.nest(0, [E.attribute(1, key(0xC3)), E.attribute(2, key(0)), E.attribute(10, E.le32(1))])
        let peerD = E.nest(0, [E.attribute(1, key(0xD4)), E.nest(9, [allowedIP("10.0.4.0/24")])])
        let first = dumpPart([
            E.attribute(6, E.le16(51820)),
            E.attribute(7, E.le32(0x20)),
            E.attribute(1, E.le32(4)),
            E.string(2, "wg0"),
            E.attribute(3, Array(1...32)),
            E.attribute(4, key(0xEE)),
            E.nest(8, [peerA, peerBFirst]),
        ])
        let second = dumpPart([E.nest(8, [peerBRest, peerC])])
        let third = dumpPart([E.nest(8, [peerD])])
        return first + second + third
    }()

    @Test func parsesADumpSpreadOverThreeMessages() throws {
        let messages = NetlinkMessage.split(Self.threePartDump)
        #expect(messages.count == 3)
        let device = try DeviceDumpParser.device(named: "wg0", from: messages)
        let expected = Device(
            name: "wg0", privateKey: PrivateKey(bytes: Array(1...32) as [UInt8]), publicKey: Self.publicKey(0xEE),
            listenPort: 51820, fwmark: 0x20,
            peers: [
                Peer(publicKey: Self.publicKey(0xA1), endpoint: Endpoint("192.0.2.1:51820"),
                     allowedIPs: [IPNetwork("10.0.0.2/32")!], persistentKeepalive: 25,
                     lastHandshake: Date(timeIntervalSince1970: 1_700_000_000.5), rxBytes: 2000, txBytes: 1000),
                Peer(publicKey: Self.publicKey(0xB2), presharedKey: PresharedKey(bytes: Self.key(0x5A)),
                     endpoint: Endpoint("[2001:db8::1]:51821"),
                     allowedIPs: [IPNetwork("10.0.1.0/24")!, IPNetwork("10.0.2.0/24")!, IPNetwork("fd00:b::/64")!]),
                Peer(publicKey: Self.publicKey(0xC3)),
                Peer(publicKey: Self.publicKey(0xD4), allowedIPs: [IPNetwork("10.0.4.0/24")!]),
            ])
        #expect(device == expected)
    }

    @Test func zeroKeysMeanNone() throws {
        let reply = Self.dumpPart([E.attribute(3, Self.key(0)), E.attribute(4, Self.key(0)), E.attribute(6, E.le16(0))])
        let device = try DeviceDumpParser.device(named: "wg1", from: NetlinkMessage.split(reply))
        #expect(device == Device(name: "wg1"))
    }

    @Test func rejectsMalformedPeers() {
        let noKey = Self.dumpPart([E.nest(8, [E.nest(0, [E.attribute(5, E.le16(25))])])])
        #expect(throws: WireGuardError.malformedReply("WireGuard peer without a 32-byte public key")) {
            try DeviceDumpParser.device(named: "wg0", from: NetlinkMessage.split(noKey))
        }
        let badMask = Self.dumpPart([E.nest(8, [E.nest(0, [
            E.attribute(1, Self.key(1)),
            E.nest(9, [E.nest(0, [E.attribute(3, [33]), E.attribute(1, E.le16(2)), E.attribute(2, [10, 0, 0, 0])])]),
        ])])])
        #expect(throws: WireGuardError.malformedReply("WireGuard allowed IP without a valid family, address and prefix")) {
            try DeviceDumpParser.device(named: "wg0", from: NetlinkMessage.split(badMask))
        }
    }

    @Test func truncatedDumpsNeverCrash() {
        let dump = Self.threePartDump
        for cut in stride(from: 0, to: dump.count, by: 3) {
            var damaged = Array(dump.prefix(cut))
            if damaged.count > 40 { damaged[40] ^= 0xFF }
            _ = try? DeviceDumpParser.device(named: "wg0", from: NetlinkMessage.split(damaged))
        }
    }

    // MARK: - Helpers

    static func indexedKey(_ i: Int) -> PublicKey {
        PublicKey(bytes: [UInt8(i >> 8), UInt8(i & 0xFF)] + [UInt8](repeating: 0x42, count: 30))!
    }

    /// Checks that the request segments carry every peer, in order, with every allowed IP
    /// exactly once, and that only a peer's first segment sets the once-only attributes.
    static func expectSegments(_ segments: [SetRequest.Segment], carry peers: [PeerUpdate]) throws {
        var merged: [(key: PublicKey, allowedIPs: [IPNetwork])] = []
        for segment in segments {
            let continuing = merged.last?.key == segment.key
            if continuing {
                merged[merged.count - 1].allowedIPs += segment.allowedIPs
                #expect(segment.flags & WireGuardGenl.Peer.replaceAllowedIPs == 0)
                #expect(!segment.hasPresharedKey && segment.endpoint == nil && segment.keepalive == nil)
            } else {
                merged.append((segment.key, segment.allowedIPs))
                let peer = try #require(peers.first { $0.publicKey == segment.key })
                #expect((segment.flags & WireGuardGenl.Peer.replaceAllowedIPs != 0) == peer.replaceAllowedIPs)
                #expect(segment.hasPresharedKey == (peer.presharedKey != nil))
                #expect(segment.endpoint == peer.endpoint)
                #expect(segment.keepalive == peer.persistentKeepalive)
            }
        }
        #expect(merged.map(\.key) == peers.map(\.publicKey))
        #expect(merged.map(\.allowedIPs) == peers.map(\.allowedIPs))
    }
}

/// A WG_CMD_SET_DEVICE request read back, to check what the splitter wrote.
struct SetRequest {
    struct Segment {
        var key: PublicKey
        var flags: UInt32 = 0
        var hasPresharedKey = false
        var endpoint: Endpoint?
        var keepalive: UInt16?
        var allowedIPs: [IPNetwork] = []
    }

    let length: Int
    let interface: String?
    let attributeTypes: [UInt16]
    let deviceFlags: UInt32?
    let segments: [Segment]

    init(_ bytes: [UInt8]) throws {
        let messages = NetlinkMessage.split(bytes)
        let message = try #require(messages.count == 1 ? messages.first : nil)
        let attributes = try #require(message.attributes(after: 4))
        length = 16 + message.payload.count
        attributeTypes = attributes.map(\.type)
        interface = attributes.first(WireGuardGenl.Device.ifname)?.string
        deviceFlags = attributes.first(WireGuardGenl.Device.flags)?.u32
        segments = try (attributes.first(WireGuardGenl.Device.peers)?.nested ?? []).map { entry in
            let peer = entry.nested
            var segment = Segment(key: try #require(PublicKey(bytes: peer.first(WireGuardGenl.Peer.publicKey)?.payload ?? [])))
            segment.flags = peer.first(WireGuardGenl.Peer.flags)?.u32 ?? 0
            segment.hasPresharedKey = peer.first(WireGuardGenl.Peer.presharedKey) != nil
            segment.endpoint = peer.first(WireGuardGenl.Peer.endpoint).flatMap { SocketAddress.endpoint(from: $0.payload) }
            segment.keepalive = peer.first(WireGuardGenl.Peer.persistentKeepalive)?.u16
            segment.allowedIPs = try (peer.first(WireGuardGenl.Peer.allowedIPs)?.nested ?? []).map { ip in
                let fields = ip.nested
                let address = try #require(IPAddress(bytes: fields.first(WireGuardGenl.AllowedIP.ipAddress)?.payload ?? []))
                #expect(fields.first(WireGuardGenl.AllowedIP.family)?.u16 == UInt16(address.family))
                let mask = try #require(fields.first(WireGuardGenl.AllowedIP.cidrMask)?.u8)
                return try #require(IPNetwork(address: address, prefixLength: Int(mask)))
            }
            return segment
        }
    }
}
