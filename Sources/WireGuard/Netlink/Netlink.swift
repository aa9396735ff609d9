import CNetlink

/// Netlink's header flags and alignment, typed as the header fields that carry them (the C
/// macros import as Int32).
enum Netlink {
    static let request = UInt16(NLM_F_REQUEST)
    static let ack = UInt16(NLM_F_ACK)
    static let dump = UInt16(NLM_F_DUMP)
    static let create = UInt16(NLM_F_CREATE)
    static let exclusive = UInt16(NLM_F_EXCL)
    static let replace = UInt16(NLM_F_REPLACE)
    static let multi = UInt16(NLM_F_MULTI)
    static let dumpInterrupted = UInt16(NLM_F_DUMP_INTR)
    static let capped = UInt16(NLM_F_CAPPED)
    static let ackTLVs = UInt16(NLM_F_ACK_TLVS)

    static let errorType = UInt16(NLMSG_ERROR)
    static let doneType = UInt16(NLMSG_DONE)
    static let noopType = UInt16(NLMSG_NOOP)
    static let overrunType = UInt16(NLMSG_OVERRUN)

    static let headerLength = MemoryLayout<nlmsghdr>.size
    static let nested = UInt16(NLA_F_NESTED)

    /// NLMSG_ALIGN / NLA_ALIGN: every header and attribute starts on a 4-byte boundary.
    static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    /// An integer in host byte order from exactly its size in bytes; nil for any other length.
    static func integer<T: FixedWidthInteger>(_: T.Type, _ bytes: ArraySlice<UInt8>) -> T? {
        guard bytes.count == MemoryLayout<T>.size else { return nil }
        return Array(bytes).withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }
}
