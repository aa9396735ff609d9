import ArgumentParser
import Foundation
import RelayWire
import WireGuard

/// Fresh keys from a few addresses try to fill an `--open` relay: each address must get no more
/// than its share, and a client from another address must still register.
struct OpenFill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open-fill",
        abstract: "Register fresh keys from several source addresses; check the per-address share of an open relay.")
    @OptionGroup var options: RelayOptions
    @Option(help: "Source IPv4 addresses to register from (any loopback address works).") var from: [String] = []
    @Option(help: "Fresh keys to register from each address.") var keys = 19
    @Option(help: "Pass only if no address got more than this many registrations (the relay's --max-sessions-per-address).")
    var maxPerAddress = 16

    func run() throws {
        let (relay, relayKey) = try options.resolved()
        var report: [String] = []
        var ok = true
        for text in from {
            guard let address = IPAddress(text), address.isIPv4 else { throw ValidationError("--from \(text): an IPv4 address") }
            var granted = 0, refused = 0
            for _ in 0..<keys {
                let client = try ProbeClient(relay: relay, relayKey: relayKey, tcp: false,
                                             source: RelayAddress(Endpoint(address: address, port: 0)))
                do {
                    try client.register(timeout: 2, retry: 0.5)
                    granted += 1
                } catch let failure as ProbeClient.Failure where failure.description.contains("relayFull") {
                    refused += 1
                }
            }
            ok = ok && granted <= maxPerAddress && granted + refused == keys
            report.append("\(text) \(granted) registered, \(refused) refused")
        }
        let other = try ProbeClient(relay: relay, relayKey: relayKey, tcp: false, source: RelayAddress(Endpoint("127.0.0.40:0")!))
        var otherResult = "registered"
        do { try other.register() } catch { ok = false; otherResult = "\(error)" }
        try verdict(ok, "\(keys) fresh keys from each address: \(report.joined(separator: "; ")); a client from another address: \(otherResult)")
    }
}
