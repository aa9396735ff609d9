import Foundation
import FormnetKit
import WireGuard

/// What an admin needs to invite a peer: a free IP, an expiry, and the invitation file itself.
public enum Invitation {
    /// The invitation is the new peer's interface config with a temporary key: the same
    /// network, prefix and server as the admin's own config.
    public static func make(for ip: IPAddress, key: PrivateKey, adminConfig: InterfaceConfig) throws -> InterfaceConfig {
        guard let address = IPNetwork(address: ip, prefixLength: adminConfig.interface.address.prefixLength),
              adminConfig.interface.address.contains(ip) else {
            throw AgentError.invalidInput("\(ip) is outside the network \(adminConfig.interface.address.canonical)")
        }
        return InterfaceConfig(
            interface: .init(networkName: adminConfig.interface.networkName, address: address, privateKey: key.base64),
            server: adminConfig.server)
    }

    /// The first address of `cidr` that no one holds, skipping the network address (and the
    /// broadcast address of an IPv4 CIDR), as innernet's auto-assignment does.
    public static func firstFreeIP(in cidr: IPNetwork, taken: Set<IPAddress>) -> IPAddress? {
        let network = cidr.canonical
        let hostBits = network.address.bitWidth - network.prefixLength
        let span: UInt64 = hostBits >= 63 ? UInt64.max : (UInt64(1) << hostBits)
        var offset: UInt64 = 1
        // An IPv6 CIDR is too large to scan to its end; a million taken addresses means full.
        while offset < span && offset <= 1 << 20 {
            let candidate = add(offset, to: network.address)
            if network.address.isIPv4 && offset == span - 1 { return nil }
            if !taken.contains(candidate) { return candidate }
            offset += 1
        }
        return nil
    }

    static func add(_ offset: UInt64, to address: IPAddress) -> IPAddress {
        switch address {
        case .v4(let a): return .v4(a &+ UInt32(truncatingIfNeeded: offset))
        case .v6(let hi, let lo):
            let (sum, carry) = lo.addingReportingOverflow(offset)
            return .v6(carry ? hi &+ 1 : hi, sum)
        }
    }

    /// "14d", "12h", "30m", "90s", "2w": innernet's invitation-expiry form.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let count = Int(text.dropLast()), count > 0 else { return nil }
        let seconds: Int
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86400
        case "w": seconds = 604_800
        default: return nil
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: seconds)
        return overflow ? nil : TimeInterval(total)
    }
}
