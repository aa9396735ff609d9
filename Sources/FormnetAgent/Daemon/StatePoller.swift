import Foundation
import FormnetKit
import Logging
import WireGuard

/// Long-polls the server's state on a thread of its own (the HTTP client blocks) and posts every
/// new state to the mailbox: both members of a pair learn of each other's endpoint within about
/// a second of the server seeing it.
struct StatePoller: Sendable {
    let network: String
    let config: InterfaceConfig
    let ownKey: PublicKey
    /// Seconds the server may hold one request.
    let wait: Int
    let mailbox: DaemonMailbox
    let logger: Logger

    func start() {
        let thread = Thread { run() }
        thread.name = "state-poll"
        thread.start()
    }

    private func run() {
        let client = APIClient(config: config, readTimeout: .seconds(Int64(wait) + 5))
        var etag: String?
        var failing = false
        while true {
            do {
                if let (state, tag) = try client.waitForState(changedFrom: etag, wait: wait) {
                    etag = tag
                    let own = state.peers.first { $0.publicKey == ownKey }
                    mailbox.post(state: state, ownObservedEndpoint: own?.endpoint)
                }
                if failing { logger.info("\(network): the server answers again") }
                failing = false
            } catch {
                // Logged once per outage; the mesh keeps running on the peers it has.
                if !failing { logger.warning("\(network): \(error)") }
                failing = true
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }
}
