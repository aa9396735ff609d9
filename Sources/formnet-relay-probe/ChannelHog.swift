import ArgumentParser
import Foundation
import RelayWire
import WireGuard

/// One registered key asks for channels to many made-up peers: the relay must grant it no more
/// than its per-client cap, at ports that do not follow each other, and still grant others.
struct ChannelHog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel-hog",
        abstract: "Ask for channels to many made-up peers; check the per-client cap and that others still get one.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Made-up peers to ask channels for.") var peers = 1_100
    @Option(help: "Pass only if at most this many were granted (the relay's --max-tunnels-per-device).") var maxGranted = 20

    func run() throws {
        let hog = try options.client()
        let other = try options.client()
        try hog.register()
        try other.register()
        var granted: [UInt16] = []
        for _ in 0..<peers {
            if let port = hog.channelGrant(to: PrivateKey.generate().publicKey), port != 0 { granted.append(port) }
        }
        let otherPort = other.channelGrant(to: hog.publicKey) ?? 0
        let adjacent = zip(granted, granted.dropFirst()).filter { $1 == $0 &+ 1 }.count
        let ok = granted.count <= maxGranted && otherPort != 0 && adjacent * 2 < max(1, granted.count - 1)
        try verdict(ok, "asked \(peers) channels: \(granted.count) granted (at most \(maxGranted)), \(adjacent) of them right after the one before; "
                        + "another client's request then got port \(otherPort)")
    }
}
