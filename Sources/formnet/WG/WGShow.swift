import ArgumentParser
import Foundation
import WireGuard

struct WGShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show interfaces as the backend reports them, as `wg show` does.")

    @Argument(help: "Interface name; all interfaces of the backend when omitted.")
    var interface: String?
    @OptionGroup var backend: BackendOptions
    @Flag(help: "Print the tab-separated format of `wg show IFACE dump`.")
    var dump = false

    func run() throws {
        let wireguard = backend.make()
        let names = try interface.map { [$0] } ?? wireguard.interfaces()
        for (index, name) in names.enumerated() {
            let device = try wireguard.device(named: name)
            if dump {
                print(DumpFormat.render(device))
            } else {
                if index > 0 { print() }
                print(Self.describe(device))
            }
        }
    }

    static func describe(_ device: Device, now: Date = Date()) -> String {
        var lines = ["interface: \(device.name)"]
        if let key = device.publicKey { lines.append("  public key: \(key)") }
        lines.append("  private key: \(device.privateKey == nil ? "(none)" : "(hidden)")")
        if device.listenPort != 0 { lines.append("  listening port: \(device.listenPort)") }
        if device.fwmark != 0 { lines.append("  fwmark: 0x\(String(device.fwmark, radix: 16))") }
        for peer in device.peers {
            lines.append("")
            lines.append("peer: \(peer.publicKey)")
            if peer.presharedKey != nil { lines.append("  preshared key: (hidden)") }
            if let endpoint = peer.endpoint { lines.append("  endpoint: \(endpoint)") }
            lines.append("  allowed ips: \(peer.allowedIPs.isEmpty ? "(none)" : peer.allowedIPs.map(\.description).joined(separator: ", "))")
            if let handshake = peer.lastHandshake {
                lines.append("  latest handshake: \(Int(now.timeIntervalSince(handshake))) seconds ago")
            }
            if peer.rxBytes != 0 || peer.txBytes != 0 {
                lines.append("  transfer: \(peer.rxBytes) B received, \(peer.txBytes) B sent")
            }
            if peer.persistentKeepalive != 0 {
                lines.append("  persistent keepalive: every \(peer.persistentKeepalive) seconds")
            }
        }
        return lines.joined(separator: "\n")
    }
}
