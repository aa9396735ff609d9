import Foundation

/// The text protocol wireguard-go speaks on its unix socket (wireguard.com/xplatform):
/// `get=1\n\n` answers key=value lines ending in `errno=N\n\n`; `set=1\n…\n\n` answers `errno=N\n\n`.
/// Keys travel as lower-case hex. Encoding and parsing are pure so they are tested without a daemon.
public enum UAPI {
    /// Replies larger than this are refused: 64 MiB holds hundreds of thousands of peers, and a
    /// bound keeps a misbehaving daemon from making us buffer without limit.
    public static let maxReplyBytes = 64 << 20

    public static let getRequest = "get=1\n\n"

    public static func setRequest(_ update: DeviceUpdate) -> String {
        var out = "set=1\n"
        if let key = update.privateKey { out += "private_key=\(key.hex)\n" }
        if let port = update.listenPort { out += "listen_port=\(port)\n" }
        if let mark = update.fwmark { out += "fwmark=\(mark)\n" }
        if update.replacePeers { out += "replace_peers=true\n" }
        for peer in update.peers {
            out += "public_key=\(peer.publicKey.hex)\n"
            switch peer.action {
            case .remove:
                out += "remove=true\n"
                continue
            case .updateOnly:
                out += "update_only=true\n"
            case .addOrUpdate:
                break
            }
            if let psk = peer.presharedKey { out += "preshared_key=\(psk.hex)\n" }
            if let endpoint = peer.endpoint { out += "endpoint=\(endpoint)\n" }
            if let keepalive = peer.persistentKeepalive { out += "persistent_keepalive_interval=\(keepalive)\n" }
            if peer.replaceAllowedIPs { out += "replace_allowed_ips=true\n" }
            for ip in peer.allowedIPs { out += "allowed_ip=\(ip.canonical)\n" }
        }
        return out + "\n"
    }

    /// The errno of a reply: 0 on success.
    public static func parseErrno(_ reply: String) throws -> Int32 {
        for line in reply.split(separator: "\n") where line.hasPrefix("errno=") {
            guard let value = Int32(line.dropFirst("errno=".count)) else {
                throw WireGuardError.malformedReply("bad errno line '\(line)'")
            }
            return value
        }
        throw WireGuardError.malformedReply("no errno line in reply")
    }

    /// Parses a `get=1` reply into a device named `name`. Throws on errno ≠ 0 or a malformed line.
    public static func parseGet(_ reply: String, name: String) throws -> Device {
        let errno = try parseErrno(reply)
        guard errno == 0 else { throw WireGuardError.uapi(operation: "get \(name)", errno: -errno) }
        var device = Device(name: name)
        var peer: Peer?
        var handshakeSeconds: Int64 = 0
        var handshakeNanos: Int64 = 0

        func finishPeer() {
            guard var p = peer else { return }
            if handshakeSeconds != 0 || handshakeNanos != 0 {
                p.lastHandshake = Date(timeIntervalSince1970: Double(handshakeSeconds) + Double(handshakeNanos) / 1e9)
            }
            device.peers.append(p)
            peer = nil
            handshakeSeconds = 0
            handshakeNanos = 0
        }

        for line in reply.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let eq = line.firstIndex(of: "=") else {
                throw WireGuardError.malformedReply("line without '=': '\(line.prefix(80))'")
            }
            let key = line[..<eq]
            let value = String(line[line.index(after: eq)...])
            func bad() -> WireGuardError { .malformedReply("bad value for \(key): '\(value.prefix(80))'") }

            if key == "public_key" {
                finishPeer()
                guard let pk = PublicKey(hex: value) else { throw bad() }
                peer = Peer(publicKey: pk)
                continue
            }
            if peer != nil {
                switch key {
                case "preshared_key":
                    guard let psk = PresharedKey(hex: value) else { throw bad() }
                    peer?.presharedKey = psk.isZero ? nil : psk
                case "endpoint":
                    guard let endpoint = Endpoint(value) else { throw bad() }
                    peer?.endpoint = endpoint
                case "persistent_keepalive_interval":
                    guard let v = UInt16(value) else { throw bad() }
                    peer?.persistentKeepalive = v
                case "allowed_ip":
                    guard let ip = IPNetwork(value) else { throw bad() }
                    peer?.allowedIPs.append(ip)
                case "last_handshake_time_sec":
                    guard let v = Int64(value) else { throw bad() }
                    handshakeSeconds = v
                case "last_handshake_time_nsec":
                    guard let v = Int64(value) else { throw bad() }
                    handshakeNanos = v
                case "rx_bytes":
                    guard let v = UInt64(value) else { throw bad() }
                    peer?.rxBytes = v
                case "tx_bytes":
                    guard let v = UInt64(value) else { throw bad() }
                    peer?.txBytes = v
                case "protocol_version", "errno":
                    break
                default:
                    // Newer daemons may add keys; ignoring them keeps old formnet working.
                    break
                }
                continue
            }
            switch key {
            case "private_key":
                guard let sk = PrivateKey(hex: value) else { throw bad() }
                if !sk.withUnsafeBytes({ $0.allSatisfy { $0 == 0 } }) {
                    device.privateKey = sk
                    device.publicKey = sk.publicKey
                }
            case "listen_port":
                guard let v = UInt16(value) else { throw bad() }
                device.listenPort = v
            case "fwmark":
                guard let v = UInt32(value) else { throw bad() }
                device.fwmark = v
            default:
                break
            }
        }
        finishPeer()
        return device
    }
}
