import CNetlink
import Glibc

/// What one received message means for the request it answers.
enum NetlinkReply: Equatable {
    /// A reply carrying data (a dump part, a GET answer).
    case data(NetlinkMessage)
    /// NLMSG_ERROR with error 0, or NLMSG_DONE: the request is complete.
    case finished
    /// NLMSG_ERROR with a negative error, or a dump that ended with one.
    case failed(NetlinkFailure)
    /// NLMSG_NOOP: nothing to do.
    case ignored

    /// Size of struct nlmsgerr's fixed part: the int error and the echoed request header.
    private static let errorHeaderLength = 4 + Netlink.headerLength

    init(_ message: NetlinkMessage) {
        switch message.type {
        case Netlink.errorType: self = Self.decodeError(message)
        case Netlink.doneType: self = Self.decodeDone(message)
        case Netlink.noopType: self = .ignored
        case Netlink.overrunType: self = .failed(NetlinkFailure(errno: EOVERFLOW, message: "netlink overrun"))
        default: self = .data(message)
        }
    }

    /// struct nlmsgerr, then the request echoed back (only its header when NLM_F_CAPPED), then,
    /// with NLM_F_ACK_TLVS, the extended-ack attributes.
    private static func decodeError(_ message: NetlinkMessage) -> NetlinkReply {
        let payload = message.payload
        guard payload.count >= errorHeaderLength, let code = Netlink.integer(Int32.self, payload[0..<4]) else {
            return .failed(NetlinkFailure(errno: EPROTO, message: "truncated netlink error message"))
        }
        if code == 0 { return .finished }
        var text: String?
        if message.flags & Netlink.ackTLVs != 0, let echoedLength = Netlink.integer(UInt32.self, payload[4..<8]) {
            let echoed = message.flags & Netlink.capped != 0
                ? Netlink.headerLength : Netlink.align(Int(echoedLength))
            text = extendedAckMessage(payload, from: 4 + echoed)
        }
        return .failed(NetlinkFailure(errno: code == Int32.min ? EPROTO : -code, message: text))
    }

    /// NLMSG_DONE carries the dump's final status as an int; older kernels send no payload.
    private static func decodeDone(_ message: NetlinkMessage) -> NetlinkReply {
        let payload = message.payload
        guard payload.count >= 4, let code = Netlink.integer(Int32.self, payload[0..<4]), code < 0 else { return .finished }
        let text = message.flags & Netlink.ackTLVs != 0 ? extendedAckMessage(payload, from: 4) : nil
        return .failed(NetlinkFailure(errno: code == Int32.min ? EPROTO : -code, message: text))
    }

    private static func extendedAckMessage(_ payload: [UInt8], from offset: Int) -> String? {
        guard offset < payload.count else { return nil }
        let attributes = NetlinkAttribute.parse(payload[offset...])
        return attributes.first(UInt16(NLMSGERR_ATTR_MSG.rawValue))?.string
    }
}
