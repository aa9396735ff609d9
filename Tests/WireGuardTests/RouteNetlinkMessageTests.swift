import Testing
@testable import WireGuard

/// rtnetlink requests against layouts read off linux/rtnetlink.h, if_link.h and if_addr.h.
/// Integers are little-endian (the test hosts' byte order); addresses are network order.
@Suite struct RouteNetlinkMessageTests {
    typealias E = NetlinkTestEncoding

    @Test func createWireGuardLink() throws {
        let expected: [UInt8] = [
            // nlmsghdr: len 60, type RTM_NEWLINK 16, flags REQUEST|ACK|EXCL|CREATE 0x0605
            60, 0, 0, 0, 16, 0, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: family AF_UNSPEC, pad, type 0, index 0, flags 0, change 0
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // IFLA_IFNAME (3): len 8, "wg0\0"
            8, 0, 3, 0, 0x77, 0x67, 0x30, 0,
            // IFLA_LINKINFO (18) | NLA_F_NESTED: len 20
            20, 0, 18, 0x80,
            //   IFLA_INFO_KIND (1): len 14, "wireguard\0", 2 bytes padding
            14, 0, 1, 0, 0x77, 0x69, 0x72, 0x65, 0x67, 0x75, 0x61, 0x72, 0x64, 0, 0, 0,
        ]
        #expect(try RouteMessages.createWireGuardLink(named: "wg0") == expected)
    }

    @Test func deleteLinkByName() throws {
        #expect(try RouteMessages.deleteLink(named: "wg0") == [
            // nlmsghdr: len 40, type RTM_DELLINK 17, flags REQUEST|ACK
            40, 0, 0, 0, 17, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg, all zero: the name selects the link
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // IFLA_IFNAME "wg0\0"
            8, 0, 3, 0, 0x77, 0x67, 0x30, 0,
        ])
    }

    @Test func dumpLinks() throws {
        #expect(try RouteMessages.dumpLinks() == [
            // nlmsghdr: len 32, type RTM_GETLINK 18, flags REQUEST|ACK|ROOT|MATCH 0x0305
            32, 0, 0, 0, 18, 0, 0x05, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: AF_UNSPEC, every link
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ])
    }

    @Test func setMTUAndUp() throws {
        #expect(try RouteMessages.setLink(index: 5, mtu: 1420) == [
            // nlmsghdr: len 40, type RTM_NEWLINK, flags REQUEST|ACK (no CREATE: the link exists)
            40, 0, 0, 0, 16, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: index 5, flags 0, change 0 (no flag is touched)
            0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // IFLA_MTU (4): u32 1420 = 0x058C
            8, 0, 4, 0, 0x8C, 0x05, 0, 0,
        ])
        #expect(try RouteMessages.setLink(index: 5, up: true) == [
            32, 0, 0, 0, 16, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: index 5, flags IFF_UP, change IFF_UP
            0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,
        ])
        #expect(try RouteMessages.setLink(index: 5, up: false) == [
            32, 0, 0, 0, 16, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifinfomsg: index 5, flags 0, change IFF_UP: clear just that flag
            0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
        ])
    }

    @Test func addIPv4Address() throws {
        let address = try #require(IPNetwork("10.0.0.1/24"))
        #expect(try RouteMessages.addAddress(address, index: 5) == [
            // nlmsghdr: len 40, type RTM_NEWADDR 20, flags REQUEST|ACK|REPLACE|CREATE 0x0505
            40, 0, 0, 0, 20, 0, 0x05, 0x05, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifaddrmsg: family AF_INET 2, prefixlen 24, flags 0, scope universe 0, index 5
            2, 24, 0, 0, 5, 0, 0, 0,
            // IFA_LOCAL (2): 10.0.0.1
            8, 0, 2, 0, 10, 0, 0, 1,
            // IFA_ADDRESS (1): 10.0.0.1
            8, 0, 1, 0, 10, 0, 0, 1,
        ])
    }

    @Test func addIPv6Address() throws {
        let address = try #require(IPNetwork("fd00::1/64"))
        let fd00_1: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        #expect(try RouteMessages.addAddress(address, index: 5) == [
            // nlmsghdr: len 64, type RTM_NEWADDR, flags 0x0505
            64, 0, 0, 0, 20, 0, 0x05, 0x05, 0, 0, 0, 0, 0, 0, 0, 0,
            // ifaddrmsg: family AF_INET6 10, prefixlen 64, flags 0, scope 0, index 5
            10, 64, 0, 0, 5, 0, 0, 0,
            // IFA_LOCAL: len 20
            20, 0, 2, 0] + fd00_1 + [
            // IFA_ADDRESS: len 20
            20, 0, 1, 0] + fd00_1)
    }

    @Test func addIPv4RouteClearsHostBits() throws {
        let network = try #require(IPNetwork("10.1.2.3/16"))
        #expect(try RouteMessages.addRoute(network, index: 5) == [
            // nlmsghdr: len 44, type RTM_NEWROUTE 24, flags REQUEST|ACK|EXCL|CREATE 0x0605
            44, 0, 0, 0, 24, 0, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,
            // rtmsg: family 2, dst_len 16, src_len 0, tos 0, table main 254, protocol boot 3,
            // scope link 253, type unicast 1, flags 0
            2, 16, 0, 0, 254, 3, 253, 1, 0, 0, 0, 0,
            // RTA_DST (1): 10.1.0.0
            8, 0, 1, 0, 10, 1, 0, 0,
            // RTA_OIF (4): 5
            8, 0, 4, 0, 5, 0, 0, 0,
        ])
    }

    @Test func addIPv6Route() throws {
        let network = try #require(IPNetwork("fd00:1::/48"))
        #expect(try RouteMessages.addRoute(network, index: 7) == [
            // nlmsghdr: len 56, type RTM_NEWROUTE, flags 0x0605
            56, 0, 0, 0, 24, 0, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,
            // rtmsg: family 10, dst_len 48, table 254, protocol 3, scope 253, type 1
            10, 48, 0, 0, 254, 3, 253, 1, 0, 0, 0, 0,
            // RTA_DST: len 20, fd00:1::
            20, 0, 1, 0, 0xFD, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // RTA_OIF: 7
            8, 0, 4, 0, 7, 0, 0, 0,
        ])
    }

    @Test func defaultRouteHasNoDestination() throws {
        let network = try #require(IPNetwork("0.0.0.0/0"))
        let request = try RouteMessages.addRoute(network, index: 5)
        #expect(request.count == 16 + 12 + 8)
        #expect(Array(request[28...]) == [8, 0, 4, 0, 5, 0, 0, 0])
    }

    @Test func parsesNewLinkReply() {
        let reply = E.message(type: 16, flags: 0x02, payload:
            [0, 0] + E.le16(65534) + E.le32(7) + E.le32(0x91) + E.le32(0)   // ifinfomsg, index 7
            + E.attribute(4, E.le32(1420))                                    // IFLA_MTU
            + E.string(3, "wg0")                                              // IFLA_IFNAME
            + E.nest(18, [E.string(1, "wireguard")]))                         // IFLA_LINKINFO
        let links = NetlinkMessage.split(reply).compactMap(RouteMessages.link(from:))
        #expect(links == [RouteMessages.Link(index: 7, name: "wg0", kind: "wireguard")])

        let noKind = E.message(type: 16, flags: 0, payload: [UInt8](repeating: 0, count: 16) + E.string(3, "lo"))
        #expect(NetlinkMessage.split(noKind).compactMap(RouteMessages.link(from:))
                == [RouteMessages.Link(index: 0, name: "lo", kind: nil)])

        let short = E.message(type: 16, flags: 0, payload: [0, 0, 0, 0, 7, 0, 0, 0])
        #expect(NetlinkMessage.split(short).compactMap(RouteMessages.link(from:)).isEmpty)
    }
}
