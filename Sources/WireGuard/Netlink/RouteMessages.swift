import CNetlink
import Glibc

/// rtnetlink requests and replies as bytes and values, with no socket: what `RouteNetlink`
/// sends, and what the tests check byte by byte.
enum RouteMessages {
    /// A link as RTM_NEWLINK describes it.
    struct Link: Equatable {
        let index: Int32
        let name: String
        /// IFLA_INFO_KIND: "wireguard", "veth", "tun", ...; nil for links without one.
        let kind: String?
    }

    static let wireGuardKind = "wireguard"

    static func createWireGuardLink(named name: String) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(
            type: UInt16(RTM_NEWLINK), flags: Netlink.request | Netlink.ack | Netlink.create | Netlink.exclusive)
        builder.putExtraHeader(linkHeader())
        builder.put(UInt16(IFLA_IFNAME), string: name)
        if let info = builder.beginNest(UInt16(IFLA_LINKINFO)) {
            builder.put(UInt16(IFLA_INFO_KIND), string: wireGuardKind)
            builder.end(info)
        }
        return try builder.message()
    }

    static func deleteLink(named name: String) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(type: UInt16(RTM_DELLINK), flags: Netlink.request | Netlink.ack)
        builder.putExtraHeader(linkHeader())
        builder.put(UInt16(IFLA_IFNAME), string: name)
        return try builder.message()
    }

    /// One link by name; the kernel answers with its RTM_NEWLINK, or ENODEV.
    static func getLink(named name: String) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(type: UInt16(RTM_GETLINK), flags: Netlink.request | Netlink.ack)
        builder.putExtraHeader(linkHeader())
        builder.put(UInt16(IFLA_IFNAME), string: name)
        return try builder.message()
    }

    static func dumpLinks() throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(type: UInt16(RTM_GETLINK), flags: Netlink.request | Netlink.ack | Netlink.dump)
        builder.putExtraHeader(linkHeader())
        return try builder.message()
    }

    /// Changes an existing link: MTU and/or the IFF_UP flag (ifi_change says which flag bits
    /// the request means to set, so other flags stay as they are).
    static func setLink(index: Int32, mtu: UInt32? = nil, up: Bool? = nil) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(type: UInt16(RTM_NEWLINK), flags: Netlink.request | Netlink.ack)
        var header = linkHeader(index: index)
        if let up {
            header.ifi_flags = up ? UInt32(IFF_UP) : 0
            header.ifi_change = UInt32(IFF_UP)
        }
        builder.putExtraHeader(header)
        if let mtu { builder.put(UInt16(IFLA_MTU), u32: mtu) }
        return try builder.message()
    }

    /// The address as given (host bits kept), as `ip address replace` sends it: IFA_LOCAL and
    /// IFA_ADDRESS equal, since the link is not point-to-point with a peer address. REPLACE
    /// makes bringing an interface up twice harmless.
    static func addAddress(_ network: IPNetwork, index: Int32) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(
            type: UInt16(RTM_NEWADDR), flags: Netlink.request | Netlink.ack | Netlink.create | Netlink.replace)
        var header = ifaddrmsg()
        header.ifa_family = UInt8(network.address.family)
        header.ifa_prefixlen = UInt8(network.prefixLength)
        header.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        header.ifa_index = UInt32(bitPattern: index)
        builder.putExtraHeader(header)
        builder.put(UInt16(IFA_LOCAL), bytes: network.address.bytes)
        builder.put(UInt16(IFA_ADDRESS), bytes: network.address.bytes)
        return try builder.message()
    }

    /// A unicast route to the network (host bits cleared, or the kernel refuses it) out of the
    /// link, in the main table, scope link, protocol boot, as `ip route add NET dev LINK` makes
    /// it. EXCL rather than REPLACE: a route another interface owns is not taken over silently.
    static func addRoute(_ network: IPNetwork, index: Int32) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(
            type: UInt16(RTM_NEWROUTE), flags: Netlink.request | Netlink.ack | Netlink.create | Netlink.exclusive)
        let destination = network.canonical
        var header = rtmsg()
        header.rtm_family = UInt8(destination.address.family)
        header.rtm_dst_len = UInt8(destination.prefixLength)
        header.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
        header.rtm_protocol = UInt8(RTPROT_BOOT)
        header.rtm_scope = UInt8(RT_SCOPE_LINK.rawValue)
        header.rtm_type = UInt8(RTN_UNICAST)
        builder.putExtraHeader(header)
        if destination.prefixLength > 0 {
            builder.put(UInt16(RTA_DST.rawValue), bytes: destination.address.bytes)
        }
        builder.put(UInt16(RTA_OIF.rawValue), u32: UInt32(bitPattern: index))
        return try builder.message()
    }

    /// The link an RTM_NEWLINK reply describes; nil for anything else or a reply too short to
    /// hold its ifinfomsg and name.
    static func link(from message: NetlinkMessage) -> Link? {
        guard message.type == UInt16(RTM_NEWLINK), message.payload.count >= MemoryLayout<ifinfomsg>.size,
              let index = Netlink.integer(Int32.self, message.payload[4..<8]),
              let attributes = message.attributes(after: MemoryLayout<ifinfomsg>.size),
              let name = attributes.first(UInt16(IFLA_IFNAME))?.string else { return nil }
        let kind = attributes.first(UInt16(IFLA_LINKINFO))?.nested.first(UInt16(IFLA_INFO_KIND))?.string
        return Link(index: index, name: name, kind: kind)
    }

    private static func linkHeader(index: Int32 = 0) -> ifinfomsg {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        header.ifi_index = index
        return header
    }
}
