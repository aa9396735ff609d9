import CNetlink

/// One received netlink message: the header fields and a copy of everything after the header.
struct NetlinkMessage: Equatable {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    let portID: UInt32
    let payload: [UInt8]

    init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// The messages of one datagram, walked with libmnl's bounds checks (mnl_nlmsg_ok): a
    /// header claiming more bytes than remain ends the walk.
    static func split(_ datagram: [UInt8]) -> [NetlinkMessage] {
        datagram.withUnsafeBytes { raw in
            var messages: [NetlinkMessage] = []
            guard let base = raw.baseAddress else { return messages }
            var remaining = Int32(clamping: raw.count)
            var next: UnsafePointer<nlmsghdr>? = base.assumingMemoryBound(to: nlmsghdr.self)
            while let header = next, mnl_nlmsg_ok(header, remaining) {
                let length = Int(header.pointee.nlmsg_len)
                let payload = UnsafeRawBufferPointer(
                    start: UnsafeRawPointer(header) + Netlink.headerLength,
                    count: length - Netlink.headerLength)
                messages.append(NetlinkMessage(
                    type: header.pointee.nlmsg_type, flags: header.pointee.nlmsg_flags,
                    sequence: header.pointee.nlmsg_seq, portID: header.pointee.nlmsg_pid,
                    payload: Array(payload)))
                next = UnsafePointer(mnl_nlmsg_next(header, &remaining))
            }
            return messages
        }
    }

    /// The attributes after a fixed header of `offset` bytes (genlmsghdr, ifinfomsg, ...);
    /// nil when the payload is shorter than that header.
    func attributes(after offset: Int) -> [NetlinkAttribute]? {
        guard payload.count >= offset else { return nil }
        return NetlinkAttribute.parse(payload[min(Netlink.align(offset), payload.count)...])
    }
}
