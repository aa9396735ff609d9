import Foundation
import FormnetKit
import WireGuard

/// `formnet list-relays`: for a network, the relays as its running daemon ranks them (home,
/// health, RTT from `Paths.relayStatus`); without a running daemon, what the registry remembers.
public enum RelayList {
    public struct View: Codable, Sendable, Equatable {
        /// Nil for the registry as a whole (no network installed).
        public var network: String?
        /// Whether a daemon wrote the status recently; without one, health and home are unknown.
        public var daemonRunning: Bool
        public var updated: Date?
        public var relays: [RelayStatus.Relay]
    }

    public static func view(network: String?, paths: Paths, now: Date = Date(), warn: (String) -> Void) -> View {
        if let network, let status = RelayStatus.load(from: paths.relayStatus(network)),
           now.timeIntervalSince(status.updated) < RelayStatus.staleAfter {
            return View(network: network, daemonRunning: true, updated: status.updated, relays: status.relays)
        }
        // No lock: saves are atomic renames.
        let registry = RelayRegistry.load(from: paths.relayRegistry, warn: warn)
        let records = network.map { registry.relays(for: $0) } ?? registry.all
        let rows = records.map { record in
            RelayStatus.Relay(key: record.key.base64, endpoint: record.endpoint, location: record.location,
                              rttMs: record.smoothedRTT, load: record.load, capacity: record.capacity,
                              sources: record.sources.map(\.description).sorted(),
                              health: record.isHealthy ? .unknown : .unhealthy)
        }
        return View(network: network, daemonRunning: false, updated: nil, relays: rows)
    }

    /// Laid out like `wg show`: a block per relay, home first.
    public static func render(_ view: View, now: Date = Date()) -> String {
        var lines: [String] = []
        let title = view.network.map { "network: \($0)" } ?? "relay registry"
        if view.daemonRunning, let updated = view.updated {
            lines.append("\(title) (daemon status \(ShowReport.ago(updated, now: now)))")
        } else {
            lines.append("\(title) (no daemon running: health and home unknown; RTT as last recorded)")
        }
        if view.relays.isEmpty {
            lines.append("  no relays known: run 'formnet start-relay --network NET' on a public member, or 'formnet add-bootstrap-relay'")
        }
        for relay in view.relays {
            lines.append("  relay: \(relay.endpoint)\(relay.home ? " (home)" : "")")
            lines.append("    public key: \(relay.key)")
            if let location = relay.location {
                var text = String(format: "%.2f, %.2f", location.latitude, location.longitude)
                if let country = location.country { text = "\(country) \(text)" }
                if let distance = relay.distanceKm { text += String(format: " (%.0f km away)", distance) }
                lines.append("    location: \(text)")
            }
            if let rtt = relay.rttMs { lines.append(String(format: "    rtt: %.1f ms", rtt)) }
            if let load = relay.load {
                lines.append("    load: \(load)\(relay.capacity.map { " of \($0) registrations" } ?? " registrations")")
            }
            lines.append("    source: \(relay.sources.joined(separator: ", "))")
            lines.append("    health: \(relay.health.rawValue)\(relay.transport.map { " (\($0))" } ?? "")")
            switch relay.registration {
            case .standing: lines.append("    registration: standing")
            case .onDemand:
                let count = relay.neededBy?.count ?? 0
                lines.append("    registration: on demand, " + (count == 0 ? "no relayed peer needs it now (closed after a minute)"
                    : "for \(count) relayed peer\(count == 1 ? "" : "s") registered there"))
            case nil: break
            }
        }
        return lines.joined(separator: "\n")
    }

}

/// `formnet add-bootstrap-relay` and `delete-bootstrap-relay`: relays no server lists.
public enum BootstrapRelays {
    public static func add(endpoint: Endpoint, key: PublicKey, paths: Paths,
                           warn: (String) -> Void) throws -> RelayRegistry.BootstrapResult {
        try RelayRegistryFile.update(paths.relayRegistry, warn: warn) { (registry: inout RelayRegistry) in
            registry.addBootstrap(key: key, endpoint: endpoint)
        }.0
    }

    /// Whether it was a bootstrap relay.
    public static func delete(key: PublicKey, paths: Paths, warn: (String) -> Void) throws -> Bool {
        try RelayRegistryFile.update(paths.relayRegistry, warn: warn) { (registry: inout RelayRegistry) -> Bool in
            registry.removeBootstrap(key: key)
        }.0
    }
}
