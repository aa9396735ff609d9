import Foundation
import FormnetKit
import WireGuard

/// `formnet show`: the network as innernet shows it, joining what WireGuard reports (endpoint,
/// handshake, transfer) with what the peer cache knows (names, IPs, CIDRs) and what the daemon
/// last knew of paths and NAT types (`traversal`, nil without a daemon).
public enum ShowReport {
    public static func render(network: String, config: InterfaceConfig, device: Device?, cache: PeerCache,
                              traversal: TraversalStatus? = nil, short: Bool, tree: Bool, now: Date = Date()) -> String {
        let ownKey = config.privateKey?.publicKey
        let byKey = Dictionary(cache.state.peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        var lines = ["network: \(network)\(device == nil ? " (down)" : "")"]
        lines.append("  network cidr: \(config.interface.address.canonical)")
        let me = cache.state.peers.first { $0.publicKey == ownKey || $0.ip == config.interface.address.address }
        lines.append("  this peer: \(me?.name ?? "(unknown)") (\(config.interface.address.address))")
        if !short {
            if let ownKey { lines.append("    public key: \(ownKey)") }
            if let device, device.listenPort != 0 { lines.append("    listening port: \(device.listenPort)") }
        }
        if let traversal { lines.append("    nat type: \(traversal.natType.rawValue)") }

        func label(_ peer: Peer) -> (name: String, ip: String, cidr: Int64?) {
            if let known = byKey[peer.publicKey] { return (known.name, known.ip.description, known.cidrId) }
            if peer.publicKey == config.server.publicKey {
                return ("formnet-server", config.server.internalEndpoint.address.description, nil)
            }
            return ("(unknown)", peer.allowedIPs.first.map { $0.address.description } ?? "-", nil)
        }

        let peers = (device?.peers ?? []).sorted { label($0).name < label($1).name }
        func describe(_ peer: Peer, indent: String) -> [String] {
            let (name, ip, _) = label(peer)
            let handshake = peer.lastHandshake.map { ago($0, now: now) } ?? "never"
            let path = traversal?.peers[peer.publicKey.base64]
            if short {
                let pathText = path.map { p in
                    let via = p.path == .relayed ? " via \(p.endpoint?.description ?? "-")" : ""
                    return " path \(p.path.rawValue)\(via) nat \(p.natType?.rawValue ?? NatType.unknown.rawValue)"
                } ?? ""
                return ["\(indent)\(name) \(ip) endpoint \(peer.endpoint?.description ?? "-") handshake \(handshake)\(pathText)"]
            }
            var result = ["\(indent)peer: \(name) (\(ip))", "\(indent)  public key: \(peer.publicKey)"]
            if let endpoint = peer.endpoint { result.append("\(indent)  endpoint: \(endpoint)") }
            if let path {
                var text = path.path.rawValue
                if path.path == .relayed {
                    text += " through relay \(path.endpoint?.description ?? "-")"
                    if let relay = path.relay { text += " (\(relay))" }
                }
                if let reason = path.reason { text += " (\(reason))" }
                if let seconds = path.timeToHandshake { text += String(format: " (handshake after %.2f s)", seconds) }
                result.append("\(indent)  path: \(text)")
                result.append("\(indent)  nat type: \(path.natType?.rawValue ?? NatType.unknown.rawValue)")
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
            for peer in peers {
                let lines = describe(peer, indent: "")
                if let cidr = label(peer).cidr, cache.state.cidrs.contains(where: { $0.id == cidr }) {
                    leaves[cidr, default: []] += lines
                } else {
                    loose += lines.map { "  " + $0 }
                }
            }
            lines += CidrTree.render(cache.state.cidrs, leaves: leaves, indent: "  ")
            lines += loose
        } else {
            for peer in peers { lines += describe(peer, indent: "  ") }
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
