import Testing
import WireGuard
@testable import FormnetAgent

@Suite struct HostCandidatesTests {
    typealias Address = HostCandidates.InterfaceAddress

    @Test func excludesFormnetInterfaceLoopbackLinkLocalAndDownLinks() {
        let addresses = [
            Address(interface: "lo", address: IPAddress("127.0.0.1")!, isLoopback: true),
            Address(interface: "lo", address: IPAddress("::1")!, isLoopback: true),
            Address(interface: "eth0", address: IPAddress("192.168.1.20")!),
            Address(interface: "eth0", address: IPAddress("fe80::1")!),
            Address(interface: "eth0", address: IPAddress("2001:db8::20")!),
            Address(interface: "evilcorp", address: IPAddress("10.66.1.2")!),
            Address(interface: "eth1", address: IPAddress("172.16.0.5")!, isUp: false),
            Address(interface: "eth2", address: IPAddress("169.254.3.3")!),
            Address(interface: "eth3", address: IPAddress("192.168.1.20")!),
        ]
        let selected = HostCandidates.select(addresses, excluding: "evilcorp", port: 51820, limit: 10)
        #expect(selected == [Endpoint("192.168.1.20:51820")!, Endpoint("[2001:db8::20]:51820")!])
    }

    @Test func stopsAtTheLimit() {
        let addresses = (1...20).map { Address(interface: "eth0", address: IPAddress("192.0.2.\($0)")!) }
        #expect(HostCandidates.select(addresses, excluding: "evilcorp", port: 1, limit: 10).count == 10)
    }

    @Test func readsThisHostsAddresses() {
        let all = InterfaceAddress.all()
        #expect(all.allSatisfy { !$0.interface.isEmpty })
    }
}
