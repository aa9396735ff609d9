import FormnetKit
import Testing
import WireGuard
@testable import FormnetTraversal

@Suite struct NatTypeTests {
    let server = Endpoint("198.18.0.1:51820")!
    let relay = Endpoint("198.18.0.5:51821")!
    func seen(_ by: Endpoint, _ text: String) -> MappingObservation {
        MappingObservation(observer: by.description, destination: by, seen: Endpoint(text)!)
    }

    @Test func infersEachTypeFromObservations() {
        let local: Set<IPAddress> = [IPAddress("192.168.21.2")!]
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: local,
                                       observations: [seen(server, "198.18.0.21:51820"), seen(relay, "198.18.0.21:51820")]) == .portPreserving)
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: local,
                                       observations: [seen(server, "198.18.0.21:15483"), seen(relay, "198.18.0.21:15483")]) == .endpointIndependent)
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: local,
                                       observations: [seen(server, "198.18.0.22:30437"), seen(relay, "198.18.0.22:45864")]) == .symmetric)
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: [IPAddress("198.18.0.9")!],
                                       observations: [seen(server, "198.18.0.9:51820")]) == .open)
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: local, observations: [], udpAnswered: false) == .udpBlocked)
        // One observer cannot tell endpoint-independent from symmetric.
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: local,
                                       observations: [seen(server, "198.18.0.21:51820")]) == .unknown)
        #expect(NatTypeInference.infer(localPort: 51820, localAddresses: local, observations: []) == .unknown)
    }

    @Test func directPathPossibility() {
        #expect(NatType.directPossible(.portPreserving, .portPreserving))
        #expect(NatType.directPossible(.endpointIndependent, .portPreserving))
        #expect(NatType.directPossible(.unknown, .portPreserving))
        #expect(NatType.directPossible(.open, .symmetric))
        #expect(!NatType.directPossible(.symmetric, .endpointIndependent))
        #expect(!NatType.directPossible(.open, .udpBlocked))
    }

    @Test func hostAddressesAreClassified() {
        #expect(EndpointKind.classify(hostAddress: IPAddress("192.168.1.4")!) == .private)
        #expect(EndpointKind.classify(hostAddress: IPAddress("100.64.3.2")!) == .private)
        #expect(EndpointKind.classify(hostAddress: IPAddress("fd00::4")!) == .private)
        #expect(EndpointKind.classify(hostAddress: IPAddress("fe80::1")!) == .private)
        #expect(EndpointKind.classify(hostAddress: IPAddress("198.18.0.4")!) == .public)
        #expect(EndpointKind.classify(hostAddress: IPAddress("2001:db8::4")!) == .public)
    }
}
