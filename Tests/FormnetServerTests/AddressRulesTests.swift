import Testing
import WireGuard
@testable import FormnetServer

@Suite struct AddressRulesTests {
    @Test func lastAddressOfBothFamilies() {
        #expect(AddressRules.lastAddress(of: IPNetwork("10.66.0.0/16")!) == IPAddress("10.66.255.255"))
        #expect(AddressRules.lastAddress(of: IPNetwork("10.66.1.7/32")!) == IPAddress("10.66.1.7"))
        #expect(AddressRules.lastAddress(of: IPNetwork("fd00::/64")!) == IPAddress("fd00::ffff:ffff:ffff:ffff"))
        #expect(AddressRules.lastAddress(of: IPNetwork("fd00::/120")!) == IPAddress("fd00::ff"))
        #expect(AddressRules.lastAddress(of: IPNetwork("fd00::/32")!) == IPAddress("fd00:0:ffff:ffff:ffff:ffff:ffff:ffff"))
    }

    @Test func nextCarriesAcrossHalves() {
        #expect(AddressRules.next(IPAddress("10.0.0.255")!) == IPAddress("10.0.1.0"))
        #expect(AddressRules.next(IPAddress("fd00::ffff:ffff:ffff:ffff")!) == IPAddress("fd00:0:0:1::"))
        #expect(AddressRules.next(IPAddress("255.255.255.255")!) == nil)
    }

    @Test func assignableExcludesNetworkAndBroadcast() {
        let net = IPNetwork("10.66.1.0/24")!
        #expect(!AddressRules.isAssignable(IPAddress("10.66.1.0")!, in: net))
        #expect(!AddressRules.isAssignable(IPAddress("10.66.1.255")!, in: net))
        #expect(AddressRules.isAssignable(IPAddress("10.66.1.1")!, in: net))
        #expect(!AddressRules.isAssignable(IPAddress("10.66.2.1")!, in: net))
        #expect(AddressRules.isAssignable(IPAddress("10.66.1.1")!, in: IPNetwork("10.66.1.1/32")!))
        #expect(!AddressRules.isAssignable(IPAddress("fd00::")!, in: IPNetwork("fd00::/64")!))
        #expect(AddressRules.isAssignable(IPAddress("fd00::ffff:ffff:ffff:ffff")!, in: IPNetwork("fd00::/64")!))
    }

    @Test func firstFreeSkipsTakenAndSubCidrs() {
        let net = IPNetwork("10.66.0.0/16")!
        let taken: Set<IPAddress> = [IPAddress("10.66.0.1")!, IPAddress("10.66.0.2")!]
        #expect(AddressRules.firstFree(in: net, taken: taken, excluded: []) == IPAddress("10.66.0.3"))
        #expect(AddressRules.firstFree(in: net, taken: taken, excluded: [IPNetwork("10.66.0.0/24")!]) == IPAddress("10.66.1.0"))
        #expect(AddressRules.firstFree(in: IPNetwork("10.66.0.0/30")!, taken: [IPAddress("10.66.0.1")!, IPAddress("10.66.0.2")!], excluded: []) == nil)
        #expect(AddressRules.firstFree(in: IPNetwork("fd00::/64")!, taken: [IPAddress("fd00::1")!], excluded: []) == IPAddress("fd00::2"))
    }

    @Test func overlapAndContainment() {
        #expect(AddressRules.overlaps(IPNetwork("10.0.0.0/8")!, IPNetwork("10.1.0.0/16")!))
        #expect(!AddressRules.overlaps(IPNetwork("10.1.0.0/16")!, IPNetwork("10.2.0.0/16")!))
        #expect(!AddressRules.overlaps(IPNetwork("10.0.0.0/8")!, IPNetwork("fd00::/8")!))
        #expect(AddressRules.isStrictlyInside(IPNetwork("10.1.0.0/16")!, IPNetwork("10.0.0.0/8")!))
        #expect(!AddressRules.isStrictlyInside(IPNetwork("10.0.0.0/8")!, IPNetwork("10.0.0.0/8")!))
    }
}
