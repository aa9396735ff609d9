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
    /// peer. Where a route failed to open (no socket), the update keeps everything but the
    /// endpoint, so that a peer re-added for the route stays on the device; the next step sees
    /// no route and routes the peer again.
    func resolving(proxies: [PublicKey: Endpoint]) -> DeviceUpdate {
        var update = device
        for index in update.peers.indices where update.peers[index].endpoint == Self.pendingProxy {
            update.peers[index].endpoint = proxies[update.peers[index].publicKey]
        }
        return update
    }
}
