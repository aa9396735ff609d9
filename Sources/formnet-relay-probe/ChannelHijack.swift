import ArgumentParser
import Foundation
import RelayWire
import WireGuard

/// A pair on channels, with a stranger and a co-tenant (another host behind the owner's NAT
/// address) trying to take the owner's channel: neither may receive the peer's packets nor make
/// the relay withdraw the channel, before it is used or after. WireGuard is played by sockets sending packets of its shapes,
/// with the session indices a relay can read.
struct ChannelHijack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel-hijack",
        abstract: "Try to receive a channel's traffic or have it withdrawn, from a stranger's address and from the owner's.")
    @OptionGroup var options: RelayOptions
    @Option(help: "The owner's address (its agent, WireGuard and the co-tenant send from it).") var owner = "127.0.0.50"
    @Option(help: "The peer's address.") var peer = "127.0.0.51"
    @Option(help: "The stranger's address.") var stranger = "127.0.0.52"

    func run() throws {
        let (relay, relayKey) = try options.resolved()
        func at(_ host: String) -> RelayAddress { RelayAddress(Endpoint("\(host):0")!) }
        let a = try ProbeClient(relay: relay, relayKey: relayKey, tcp: false, source: at(owner))
        let b = try ProbeClient(relay: relay, relayKey: relayKey, tcp: false, source: at(peer))
        try a.register()
        try b.register()
        let portA = try a.channel(to: b.publicKey)
        let portB = try b.channel(to: a.publicKey)
        func channel(_ port: UInt16, from host: String) throws -> ProbeSocket {
            try ProbeSocket(relay: RelayAddress(high: relay.high, low: relay.low, port: port), tcp: false, source: at(host))
        }
        let wireGuardA = try channel(portA, from: owner)
        let wireGuardB = try channel(portB, from: peer)
        let coTenant = try channel(portA, from: owner)
        let outsider = try channel(portA, from: stranger)
        let (indexA, indexB): (UInt32, UInt32) = (0xA1A1_0001, 0xB0B0_0001)

        // Before the owner's WireGuard has used its channel, the stranger sends into it.
        outsider.send(Self.initiation(sender: 0xEEEE_0000))
        wireGuardA.send(Self.initiation(sender: indexA))
        _ = wireGuardB.drain(timeout: 0.3)
        wireGuardB.send(Self.response(sender: indexB, receiver: indexA))
        let handshake = wireGuardA.drain(timeout: 0.5).count

        // Neither has seen the peer's index (only the owner's WireGuard has): they guess.
        for socket in [coTenant, outsider] {
            socket.send(Self.initiation(sender: 0xEEEE_0001))
            socket.send(Self.response(sender: 0xEEEE_0002, receiver: indexA))
            socket.send(Self.transport(receiver: indexB &+ 1))
            socket.send(Self.transport(receiver: 0xEEEE_0003))
        }
        // The co-tenant's packets come from the owner's address: forwarded toward the peer,
        // whose WireGuard drops what it did not make. The stranger's are not.
        let atPeer = wireGuardB.drain(timeout: 0.5).count
        let count = 20
        for _ in 0..<count { wireGuardB.send(Self.transport(receiver: indexA)) }
        let owners = wireGuardA.drain(timeout: 0.5).count
        let stolen = coTenant.drain(timeout: 0.2).count + outsider.drain(timeout: 0.2).count
        let withdrawn = a.socket.drain(timeout: 1.2).filter { frame in
            frame.withUnsafeBytes { ChannelGrantFrame.decode($0) }?.port == 0
        }.count
        let ok = handshake == 1 && owners == count && stolen == 0 && withdrawn == 0 && atPeer <= 4
        try verdict(ok, "handshake through the channels: \(handshake) response at the owner's WireGuard; after the co-tenant's and the stranger's packets, "
                        + "\(owners)/\(count) of the peer's packets reached the owner's WireGuard, \(stolen) reached them, "
                        + "\(withdrawn) withdrawals reached the owner's agent, \(atPeer) of their 8 packets reached the peer (at most the co-tenant's 4)")
    }

    private static func index(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func initiation(sender: UInt32) -> [UInt8] { [1, 0, 0, 0] + index(sender) + [UInt8](repeating: 0xAB, count: 140) }
    static func response(sender: UInt32, receiver: UInt32) -> [UInt8] { [2, 0, 0, 0] + index(sender) + index(receiver) + [UInt8](repeating: 0x77, count: 80) }
    static func transport(receiver: UInt32) -> [UInt8] { [4, 0, 0, 0] + index(receiver) + [UInt8](repeating: 0xCD, count: 40) }
}
