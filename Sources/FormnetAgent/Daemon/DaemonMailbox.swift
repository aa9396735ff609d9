import Foundation
import FormnetKit
import WireGuard

/// What the daemon's worker threads hand to its main loop: the newest state from the long poll
/// and this member's NAT type from the probes. The main loop waits on it, so news wakes it at
/// once instead of at its next tick.
final class DaemonMailbox: @unchecked Sendable {
    // Every stored property is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var state: API.State?
    private var natType: NatType = .unknown
    private var ownObservedEndpoint: Endpoint?
    private var relays: [PublicKey] = []
    private var udpRelay = false
    private var woken = false

    func post(state: API.State, ownObservedEndpoint: Endpoint?) {
        condition.withLock {
            self.state = state
            self.ownObservedEndpoint = ownObservedEndpoint
            condition.broadcast()
        }
    }

    func post(natType: NatType) {
        condition.withLock {
            guard natType != self.natType else { return }
            self.natType = natType
            condition.broadcast()
        }
    }

    /// Ends the current or next wait at once, with no news: the relay engine's channels changed
    /// and WireGuard's endpoints should follow now, not at the next tick.
    func wake() {
        condition.withLock {
            woken = true
            condition.broadcast()
        }
    }

    /// The relays this member is registered with, home first, for the reporter to send.
    func post(relays: [PublicKey]) {
        condition.withLock { self.relays = relays }
    }

    var reportedRelays: [PublicKey] { condition.withLock { relays } }

    /// Whether a relay answers this member over UDP, for the reporter: it refutes a probe that
    /// says udp-blocked (`NatDetection.refuted`).
    func post(relayAnswersOverUDP: Bool) {
        condition.withLock { udpRelay = relayAnswersOverUDP }
    }

    var relayAnswersOverUDP: Bool { condition.withLock { udpRelay } }

    /// The server's view of this member's WireGuard port in the newest state.
    var serverObservedEndpoint: Endpoint? { condition.withLock { ownObservedEndpoint } }

    /// Waits up to `timeout` for news: a new state (taken, so each is handed over once) and the
    /// NAT type the probes found.
    func next(timeout: Duration) -> (state: API.State?, natType: NatType) {
        condition.withLock {
            if state == nil, !woken {
                let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
                _ = condition.wait(until: Date().addingTimeInterval(seconds))
            }
            defer {
                state = nil
                woken = false
            }
            return (state, natType)
        }
    }
}
