import Foundation
import Glibc

/// Turns the replies to WG_CMD_GET_DEVICE into a `Device`. The kernel spreads a large device
/// over several messages: the device attributes come in the first, peers follow in order, and
/// a peer whose allowed IPs did not fit is repeated in the next message with its public key and
/// the rest of its allowed IPs only. Repeats are merged into the first appearance.
enum DeviceDumpParser {
    static func device(named name: String, from replies: [NetlinkMessage]) throws -> Device {
        var device = Device(name: name)
        var peerIndex: [PublicKey: Int] = [:]
        for reply in replies {
            guard let attributes = reply.attributes(after: GenericNetlinkFamily.headerLength) else {
                throw WireGuardError.malformedReply("WireGuard device message shorter than its generic netlink header")
            }
            for attribute in attributes {
                switch attribute.type {
                case WireGuardGenl.Device.ifname:
                    if let text = attribute.string { device.name = text }
                case WireGuardGenl.Device.privateKey:
                    if attribute.payload.count == PublicKey.byteCount, attribute.payload.contains(where: { $0 != 0 }) {
                        device.privateKey = PrivateKey(bytes: attribute.payload)
                    }
                case WireGuardGenl.Device.publicKey:
                    if attribute.payload.contains(where: { $0 != 0 }) {
                        device.publicKey = PublicKey(bytes: attribute.payload)
                    }
                case WireGuardGenl.Device.listenPort:
                    if let port = attribute.u16 { device.listenPort = port }
                case WireGuardGenl.Device.fwmark:
                    if let mark = attribute.u32 { device.fwmark = mark }
                case WireGuardGenl.Device.peers:
                    for entry in attribute.nested {
                        let peer = try parsePeer(entry.nested)
                        if let index = peerIndex[peer.publicKey] {
                            device.peers[index].allowedIPs += peer.allowedIPs
                        } else {
                            peerIndex[peer.publicKey] = device.peers.count
                            device.peers.append(peer)
                        }
                    }
                default:
                    continue
                }
            }
        }
        return device
    }

    private static func parsePeer(_ attributes: [NetlinkAttribute]) throws -> Peer {
        guard let keyBytes = attributes.first(WireGuardGenl.Peer.publicKey)?.payload,
              let publicKey = PublicKey(bytes: keyBytes) else {
            throw WireGuardError.malformedReply("WireGuard peer without a 32-byte public key")
        }
        var peer = Peer(publicKey: publicKey)
        for attribute in attributes {
            switch attribute.type {
            case WireGuardGenl.Peer.presharedKey:
                // The kernel always sends the key; all zeros means the peer has none.
                if attribute.payload.contains(where: { $0 != 0 }) {
                    peer.presharedKey = PresharedKey(bytes: attribute.payload)
                }
            case WireGuardGenl.Peer.endpoint:
                peer.endpoint = SocketAddress.endpoint(from: attribute.payload)
            case WireGuardGenl.Peer.persistentKeepalive:
                if let seconds = attribute.u16 { peer.persistentKeepalive = seconds }
            case WireGuardGenl.Peer.lastHandshakeTime:
                peer.lastHandshake = handshakeDate(attribute.payload)
            case WireGuardGenl.Peer.rxBytes:
                if let count = attribute.u64 { peer.rxBytes = count }
            case WireGuardGenl.Peer.txBytes:
                if let count = attribute.u64 { peer.txBytes = count }
            case WireGuardGenl.Peer.allowedIPs:
                peer.allowedIPs = try attribute.nested.map { try parseAllowedIP($0.nested) }
            default:
                continue
            }
        }
        return peer
    }

    private static func parseAllowedIP(_ attributes: [NetlinkAttribute]) throws -> IPNetwork {
        guard let family = attributes.first(WireGuardGenl.AllowedIP.family)?.u16,
              let addressBytes = attributes.first(WireGuardGenl.AllowedIP.ipAddress)?.payload,
              let cidr = attributes.first(WireGuardGenl.AllowedIP.cidrMask)?.u8,
              let address = IPAddress(bytes: addressBytes), address.family == Int32(family),
              let network = IPNetwork(address: address, prefixLength: Int(cidr)) else {
            throw WireGuardError.malformedReply("WireGuard allowed IP without a valid family, address and prefix")
        }
        return network
    }

    /// struct __kernel_timespec: two 64-bit signed integers, seconds and nanoseconds; zero
    /// means no handshake yet.
    private static func handshakeDate(_ payload: [UInt8]) -> Date? {
        guard payload.count == 16,
              let seconds = Netlink.integer(Int64.self, payload[0..<8]),
              let nanoseconds = Netlink.integer(Int64.self, payload[8..<16]),
              seconds != 0 || nanoseconds != 0 else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1_000_000_000)
    }
}
