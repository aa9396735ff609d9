import Foundation

/// Reads the effective capability set from /proc, so a non-root caller that holds
/// CAP_NET_ADMIN (a systemd unit with AmbientCapabilities, say) is not turned away.
enum Capabilities {
    static let netAdminBit = 12

    static func hasNetAdmin() -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return false }
        return netAdmin(inProcStatus: status)
    }

    static func netAdmin(inProcStatus status: String) -> Bool {
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces)
            guard let mask = UInt64(hex, radix: 16) else { return false }
            return mask & (1 << netAdminBit) != 0
        }
        return false
    }
}
