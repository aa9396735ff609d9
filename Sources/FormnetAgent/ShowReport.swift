import Foundation
import FormnetKit
import WireGuard

/// `formnet show`: the network as innernet shows it, joining what WireGuard reports (endpoint,
/// handshake, transfer) with what the peer cache knows (names, IPs, CIDRs) and what the daemon
/// last knew of paths and NAT types (`traversal`, nil without a daemon).
public enum ShowReport {
    /// What `show` reports of one network: what `--json` prints and the text is laid out from.
    public struct Network: Codable, Sendable, Equatable {
        public var network: String
        public var up: Bool
        public var networkCidr: String
        public var thisPeer: ThisPeer
        public var peers: [PeerView]
    }

    public struct ThisPeer: Codable, Sendable, Equatable {
        public var name: String?
        public var ip: String
        public var publicKey: PublicKey?
        public var listeningPort: UInt16?
        /// As the daemon's last probe inferred it; nil without a daemon.
        public var natType: NatType?
    }

    public struct PeerView: Codable, Sendable, Equatable {
        public var name: String
        public var ip: String
        public var cidrId: Int64?
        public var publicKey: PublicKey
        public var endpoint: Endpoint?
        /// The daemon's view; nil without a daemon.
        public var path: TraversalStatus.Path?
        /// The relay's base64 key and endpoint when relayed (`endpoint` is then WireGuard's
        /// loopback proxy).
        public var relay: String?
        public var relayEndpoint: Endpoint?
        public var natType: NatType?
        /// Why the path is unreachable-direct, relay-connecting, or relayed.
        public var reason: String?
        public var timeToHandshake: Double?
        /// Seconds, smoothed, through the tunnel on a direct path.
        public var rtt: Double?
        /// Fraction of RTT probes lost, smoothed.
        public var loss: Double?
        public var lastHandshake: Date?
        public var rxBytes: UInt64
        public var txBytes: UInt64
    }

    public static func snapshot(network: String, config: InterfaceConfig, device: Device?, cache: PeerCache,
                                traversal: TraversalStatus? = nil) -> Network {
        let ownKey = config.privateKey?.publicKey
        let byKey = Dictionary(cache.state.peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        let me = cache.state.peers.first { $0.publicKey == ownKey || $0.ip == config.interface.address.address }
        let thisPeer = ThisPeer(name: me?.name, ip: config.interface.address.address.description, publicKey: ownKey,
                                listeningPort: device.flatMap { $0.listenPort == 0 ? nil : $0.listenPort },
                                natType: traversal?.natType)
        let peers = (device?.peers ?? []).map { peer in
            let known = byKey[peer.publicKey]
            let isServer = known == nil && peer.publicKey == config.server.publicKey
            let path = traversal?.peers[peer.publicKey.base64]
            return PeerView(
                name: known?.name ?? (isServer ? "formnet-server" : "(unknown)"),
                ip: known?.ip.description ?? (isServer ? config.server.internalEndpoint.address.description
                                                       : peer.allowedIPs.first.map { $0.address.description } ?? "-"),
                cidrId: known?.cidrId, publicKey: peer.publicKey, endpoint: peer.endpoint, path: path?.path,
                relay: path?.relay, relayEndpoint: path.flatMap { $0.path == .relayed || $0.path == .relayConnecting ? $0.endpoint : nil },
                natType: path.map { $0.natType ?? .unknown }, reason: path?.reason,
                timeToHandshake: path?.timeToHandshake, rtt: path?.rtt, loss: path?.loss, lastHandshake: peer.lastHandshake,
                rxBytes: peer.rxBytes, txBytes: peer.txBytes)
        }.sorted { $0.name < $1.name }
        return Network(network: network, up: device != nil, networkCidr: "\(config.interface.address.canonical)",
                       thisPeer: thisPeer, peers: peers)
    }

    public static func render(network: String, config: InterfaceConfig, device: Device?, cache: PeerCache,
                              traversal: TraversalStatus? = nil, short: Bool, tree: Bool, now: Date = Date()) -> String {
        render(snapshot(network: network, config: config, device: device, cache: cache, traversal: traversal),
               cidrs: cache.state.cidrs, short: short, tree: tree, now: now)
    }

    static func render(_ view: Network, cidrs: [Cidr], short: Bool, tree: Bool, now: Date) -> String {
        var lines = ["network: \(view.network)\(view.up ? "" : " (down)")"]
        lines.append("  network cidr: \(view.networkCidr)")
        lines.append("  this peer: \(view.thisPeer.name ?? "(unknown)") (\(view.thisPeer.ip))")
        if !short {
            if let key = view.thisPeer.publicKey { lines.append("    public key: \(key)") }
            if let port = view.thisPeer.listeningPort { lines.append("    listening port: \(port)") }
        }
        if let nat = view.thisPeer.natType { lines.append("    nat type: \(nat.rawValue)") }

        func describe(_ peer: PeerView, indent: String) -> [String] {
            let handshake = peer.lastHandshake.map { ago($0, now: now) } ?? "never"
            if short {
                let pathText = peer.path.map { path in
                    let via = path == .relayed || path == .relayConnecting ? " via \(peer.relayEndpoint?.description ?? "-")" : ""
                    return " path \(path.rawValue)\(via) nat \((peer.natType ?? .unknown).rawValue)"
                } ?? ""
                return ["\(indent)\(peer.name) \(peer.ip) endpoint \(peer.endpoint?.description ?? "-") handshake \(handshake)\(pathText)"]
            }
            var result = ["\(indent)peer: \(peer.name) (\(peer.ip))", "\(indent)  public key: \(peer.publicKey)"]
            if let endpoint = peer.endpoint { result.append("\(indent)  endpoint: \(endpoint)") }
            if let path = peer.path {
                var text = path == .relayConnecting ? "connecting" : path.rawValue
                if path == .relayed || path == .relayConnecting {
                    text += " through relay \(peer.relayEndpoint?.description ?? "-")"
                    if let relay = peer.relay { text += " (\(relay))" }
                }
                if let reason = peer.reason { text += " (\(reason))" }
                if let seconds = peer.timeToHandshake { text += String(format: " (handshake after %.2f s)", seconds) }
                result.append("\(indent)  path: \(text)")
                result.append("\(indent)  nat type: \((peer.natType ?? .unknown).rawValue)")
            }
            if let rtt = peer.rtt {
                result.append(String(format: "\(indent)  rtt: %.1f ms, %.0f%% lost", rtt * 1000, (peer.loss ?? 0) * 100))
            }
            result.append("\(indent)  last handshake: \(handshake)")
            if peer.rxBytes != 0 || peer.txBytes != 0 {
                result.append("\(indent)  transfer: \(bytes(peer.rxBytes)) received, \(bytes(peer.txBytes)) sent")
            }
            return result
        }

        if tree {
            var leaves: [Int64: [String]] = [:]
            var loose: [String] = []
            for peer in view.peers {
                let lines = describe(peer, indent: "")
                if let cidr = peer.cidrId, cidrs.contains(where: { $0.id == cidr }) {
                    leaves[cidr, default: []] += lines
                } else {
                    loose += lines.map { "  " + $0 }
                }
            }
            lines += CidrTree.render(cidrs, leaves: leaves, indent: "  ")
            lines += loose
        } else {
            for peer in view.peers { lines += describe(peer, indent: "  ") }
        }
        return lines.joined(separator: "\n")
    }

    static func ago(_ date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "\(seconds) seconds ago"
        case ..<3600: return "\(seconds / 60) minutes, \(seconds % 60) seconds ago"
        default: return "\(seconds / 3600) hours, \(seconds % 3600 / 60) minutes ago"
        }
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.2f", value) + " " + units[unit]
    }
}
