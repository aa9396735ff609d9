import RelayClient
import FormnetTraversal
import WireGuard

/// What one planner step decided: the device update, the relay commands that go before it, and
/// the files and probes the daemon hands the results to.
struct MemberPlan: Sendable {
    var device = DeviceUpdate()
    var relay: [RelayCommand] = []
    /// Write this to `Paths.relayStatus` when set.
    var relayStatus: RelayStatus?
    /// The directly connected peers the tunnel prober measures, when traversal runs.
    var probeTargets: [TunnelProbeBook.Target]?

    /// Stands in the device update for the proxy a `.route` command of the same plan opens: the
    /// engine picks the proxy's port when it opens the socket, after the plan is made.
    static let pendingProxy = Endpoint(address: RelayClientEngine.proxyAddress, port: 0)

    /// The device update with each pending proxy replaced by the one the engine opened for its
    /// peer. Updates of a peer whose route failed to open are left out, as the peer's routing
    /// is: the next step sees no route and plans again.
    func resolving(proxies: [PublicKey: Endpoint]) -> DeviceUpdate {
        var update = device
        update.peers = device.peers.compactMap { peer in
            guard peer.endpoint == Self.pendingProxy else { return peer }
            guard let proxy = proxies[peer.publicKey] else { return nil }
            var resolved = peer
            resolved.endpoint = proxy
            return resolved
        }
        return update
    }
}
