import FormnetKit
import FormnetTraversal
import Glibc
import WireGuard

/// This member's NAT type: STUN Binding requests from one ephemeral port to the server's two
/// observers show whether the mapping depends on the destination; the server's own view of the
/// WireGuard port says whether that port is kept.
public enum NatDetection {
    /// The server's default STUN ports, used on its external address when its capabilities cannot
    /// be fetched (a member whose UDP is blocked cannot reach the API through the tunnel at all).
    public static let defaultObserverPorts: [UInt16] = [3478, 3479]

    /// Probes synchronously (up to about 1.5 s); call it from a thread of its own, never from
    /// async code.
    public static func probe(observers: [Endpoint], localAddresses: Set<IPAddress>) -> NatType {
        guard !observers.isEmpty else { return .unknown }
        do {
            let socket = try DatagramSocket(family: AF_INET, port: 0)
            let observations = try STUNProbe.observe(observers: observers, from: socket)
            return NatTypeInference.infer(localPort: socket.localPort, localAddresses: localAddresses,
                                          observations: observations, udpAnswered: !observations.isEmpty)
        } catch {
            return .unknown
        }
    }

    /// Whether a probe's answer must be heard again before it replaces the last one: a probe
    /// that heard one observer only (unknown) or none (udp-blocked) after a definite answer is
    /// more likely a lost STUN packet than a new NAT. On a lossy link one lost answer made a
    /// symmetric member unknown for a whole interval, and its peers tried direct paths, which
    /// takes a relayed pair off its relay while they last.
    public static func mustConfirm(_ probed: NatType, after previous: NatType) -> Bool {
        previous != .unknown && previous != .udpBlocked && (probed == .unknown || probed == .udpBlocked)
    }

    /// Refines a probe's answer with the server's observation of the WireGuard port: the probe
    /// used another port, and the WireGuard port's mapping is the one peers will use.
    public static func confirm(_ probed: NatType, wireGuardPort: UInt16, serverObserved: Endpoint?) -> NatType {
        guard let serverObserved, wireGuardPort != 0 else { return probed }
        switch probed {
        case .endpointIndependent where serverObserved.port == wireGuardPort: return .portPreserving
        case .portPreserving where serverObserved.port != wireGuardPort: return .endpointIndependent
        default: return probed
        }
    }

    /// The NAT type to act on while the probe has not answered (it takes up to ~3 s when UDP is
    /// blocked, and every pair waits on it): relays that answer over TCP but not over UDP mean
    /// UDP is blocked; otherwise the type the last run found, since a host's NAT rarely changes
    /// across a restart and the probe corrects a wrong guess seconds later.
    ///
    /// A probe no observer answered says udp-blocked, but a relay that answers over UDP refutes
    /// it: the observers (on the server) are down or cut off, and the type is unknown; acting on
    /// udp-blocked would move every relay link to TCP (a member restarted while the server was
    /// down logged it).
    public static func effective(probed: NatType, remembered: NatType, relayAnswersOverUDP: Bool,
                                 relayAnswersOverTCP: Bool) -> NatType {
        let probed = refuted(probed, relayAnswersOverUDP: relayAnswersOverUDP)
        if probed != .unknown { return probed }
        if relayAnswersOverTCP && !relayAnswersOverUDP { return .udpBlocked }
        return refuted(remembered, relayAnswersOverUDP: relayAnswersOverUDP)
    }

    /// Unknown in place of udp-blocked when a relay answers over UDP.
    public static func refuted(_ type: NatType, relayAnswersOverUDP: Bool) -> NatType {
        type == .udpBlocked && relayAnswersOverUDP ? .unknown : type
    }
}
