import Foundation

/// The tab-separated `wg show IFACE dump` format, so formnet's readback can be compared with
/// wg(8)'s line for line.
public enum DumpFormat {
    public static func render(_ device: Device) -> String {
        var lines = [[
            device.privateKey?.base64 ?? "(none)",
            device.publicKey?.base64 ?? "(none)",
            String(device.listenPort),
            device.fwmark == 0 ? "off" : "0x\(String(device.fwmark, radix: 16))",
        ].joined(separator: "\t")]
        for peer in device.peers {
            lines.append([
                peer.publicKey.base64,
                peer.presharedKey?.base64 ?? "(none)",
                peer.endpoint?.description ?? "(none)",
                peer.allowedIPs.isEmpty ? "(none)" : peer.allowedIPs.map(\.description).joined(separator: ","),
                String(Int64(peer.lastHandshake?.timeIntervalSince1970 ?? 0)),
                String(peer.rxBytes),
                String(peer.txBytes),
                peer.persistentKeepalive == 0 ? "off" : String(peer.persistentKeepalive),
            ].joined(separator: "\t"))
        }
        return lines.joined(separator: "\n")
    }
}
