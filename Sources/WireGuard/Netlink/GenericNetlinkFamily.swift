import CNetlink
import Glibc

/// Generic netlink families are numbered at run time: the controller (CTRL_CMD_GETFAMILY)
/// maps a family name such as "wireguard" to the message type its requests must carry.
enum GenericNetlinkFamily {
    static let headerLength = MemoryLayout<genlmsghdr>.size
    /// The controller's own protocol version, as libmnl's and the kernel's tools send it.
    private static let controllerVersion: UInt8 = 1

    static func resolveRequest(name: String) throws -> [UInt8] {
        let builder = NetlinkMessageBuilder(type: UInt16(GENL_ID_CTRL), flags: Netlink.request | Netlink.ack)
        builder.putExtraHeader(genlmsghdr(cmd: UInt8(CTRL_CMD_GETFAMILY), version: controllerVersion, reserved: 0))
        builder.put(UInt16(CTRL_ATTR_FAMILY_NAME), string: name)
        return try builder.message()
    }

    /// The family id from the controller's NEWFAMILY reply.
    static func familyID(from replies: [NetlinkMessage]) -> UInt16? {
        for reply in replies {
            if let id = reply.attributes(after: headerLength)?.first(UInt16(CTRL_ATTR_FAMILY_ID))?.u16 { return id }
        }
        return nil
    }

    /// Resolves `name` on `socket`; ENOENT means the kernel has no such family.
    static func resolve(_ name: String, on socket: NetlinkSocket) throws -> UInt16 {
        let replies = try socket.transact(resolveRequest(name: name))
        guard let id = familyID(from: replies) else {
            throw NetlinkFailure(errno: EPROTO, message: "no family id in the controller's reply for '\(name)'")
        }
        return id
    }
}
