import FormnetKit
import Testing
import WireGuard
@testable import FormnetServer

@Suite struct ListingTests {
    @Test func cidrTreeIndentsChildren() {
        let cidrs = [Cidr(id: 1, name: "net", cidr: IPNetwork("10.0.0.0/16")!, parent: nil),
                     Cidr(id: 2, name: "a", cidr: IPNetwork("10.0.1.0/24")!, parent: 1),
                     Cidr(id: 3, name: "b", cidr: IPNetwork("10.0.1.0/28")!, parent: 2),
                     Cidr(id: 4, name: "c", cidr: IPNetwork("10.0.2.0/24")!, parent: 1)]
        #expect(Listing.cidrTree(cidrs) == """
            10.0.0.0/16 net
              10.0.1.0/24 a
                10.0.1.0/28 b
              10.0.2.0/24 c
            """)
        #expect(Listing.cidrs(cidrs).split(separator: "\n").first == "NAME  CIDR         PARENT")
    }
}
