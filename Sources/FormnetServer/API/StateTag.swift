import FormnetKit
import Foundation

/// The ETag of a member's state, which a held state request waits to see change (ADR 0004).
///
/// It covers what a member acts on, not every byte it is sent. Each relay re-announces every
/// `API.relayAnnounceInterval` with a fresh `lastSeen` and its current load; a tag over the
/// whole body would change at each of them and answer every held request of the network, once
/// a minute per relay, with nothing new to do. So `lastSeen` is left out, and of the load only
/// whether the relay is full, the one load change that turns members away from a relay (a full
/// relay refuses registrations); finer load only breaks ties between relays. A member is sent
/// the current values with any other change and with every plain fetch. Being equal for
/// states that differ in bytes, the tag is a weak one (RFC 9110, 8.8.1).
enum StateTag {
    static func of(_ state: API.State) throws -> String {
        var significant = state
        significant.relays = state.relays.map { relay in
            var relay = relay
            relay.lastSeen = Date(timeIntervalSince1970: 0)
            relay.load = relay.load >= relay.capacity ? relay.capacity : 0
            return relay
        }
        return fnv1a(try API.encoder().encode(significant))
    }

    /// FNV-1a: the tag only has to change when what it covers does.
    static func fnv1a(_ bytes: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return "W/\"\(String(hash, radix: 16))\""
    }
}
