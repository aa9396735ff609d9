import CNetlink

/// One attribute of a received message: its type (flag bits cleared) and a copy of its payload.
/// The readers return nil unless the payload has exactly the size of the value, so a malformed
/// reply never reads past its attribute.
struct NetlinkAttribute: Equatable {
    let type: UInt16
    let payload: [UInt8]

    /// Walks a run of attributes with libmnl, which stops at the first attribute whose length
    /// does not fit in what is left; nothing past `bytes` is ever read.
    static func parse(_ bytes: ArraySlice<UInt8>) -> [NetlinkAttribute] {
        var attributes: [NetlinkAttribute] = []
        let aligned = Array(bytes)
        aligned.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            withUnsafeMutablePointer(to: &attributes) { context in
                _ = mnl_attr_parse_payload(base, raw.count, { attribute, context in
                    guard let attribute, let context else { return MNL_CB_ERROR }
                    let length = Int(mnl_attr_get_payload_len(attribute))
                    let payload = UnsafeRawBufferPointer(start: mnl_attr_get_payload(attribute), count: length)
                    context.assumingMemoryBound(to: [NetlinkAttribute].self).pointee.append(
                        NetlinkAttribute(type: mnl_attr_get_type(attribute), payload: Array(payload)))
                    return MNL_CB_OK
                }, context)
            }
        }
        return attributes
    }

    static func parse(_ bytes: [UInt8]) -> [NetlinkAttribute] { parse(bytes[...]) }

    /// The attributes nested inside this one.
    var nested: [NetlinkAttribute] { Self.parse(payload) }

    var u8: UInt8? { payload.count == 1 ? payload[0] : nil }
    var u16: UInt16? { Netlink.integer(UInt16.self, payload[...]) }
    var u32: UInt32? { Netlink.integer(UInt32.self, payload[...]) }
    var u64: UInt64? { Netlink.integer(UInt64.self, payload[...]) }

    /// The text up to the first NUL (netlink strings may or may not carry one).
    var string: String? {
        let text = payload.prefix { $0 != 0 }
        return String(validating: text, as: UTF8.self)
    }
}

extension Array where Element == NetlinkAttribute {
    func first(_ type: UInt16) -> NetlinkAttribute? { first { $0.type == type } }
}
