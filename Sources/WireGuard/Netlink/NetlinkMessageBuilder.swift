import CNetlink
import CSodium
import Glibc

/// One netlink request under construction, written with libmnl's builders into a buffer this
/// object owns. Every write is bounds-checked against `capacity` (libmnl's `_check` variants);
/// a write that does not fit is refused and remembered, so a request is never truncated silently.
final class NetlinkMessageBuilder {
    /// What wg(8) and libmnl call MNL_SOCKET_BUFFER_SIZE: the page size, at most 8 KiB. The
    /// macro calls sysconf() and so does not import into Swift.
    static let socketBufferSize: Int = {
        let page = sysconf(Int32(_SC_PAGESIZE))
        return page > 0 ? min(page, 8192) : 4096
    }()

    /// A nested attribute that has been opened and not yet closed or cancelled.
    struct Nest {
        fileprivate let start: UnsafeMutablePointer<nlattr>
    }

    let capacity: Int
    private let buffer: UnsafeMutableRawPointer
    private let header: UnsafeMutablePointer<nlmsghdr>
    private(set) var overflowed = false

    /// Requests carry sequence 0 here; `NetlinkSocket` numbers each one as it sends it.
    init(type: UInt16, flags: UInt16, capacity: Int = NetlinkMessageBuilder.socketBufferSize) {
        self.capacity = max(capacity, Netlink.headerLength)
        buffer = .allocate(byteCount: self.capacity, alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: self.capacity)
        header = mnl_nlmsg_put_header(buffer)
        header.pointee.nlmsg_type = type
        header.pointee.nlmsg_flags = flags
    }

    /// Requests can carry private and preshared keys; they do not outlive the builder here.
    deinit {
        sodium_memzero(buffer, capacity)
        buffer.deallocate()
    }

    var length: Int { Int(header.pointee.nlmsg_len) }

    /// The fixed header that follows nlmsghdr (genlmsghdr, ifinfomsg, ifaddrmsg, rtmsg).
    func putExtraHeader<Header>(_ value: Header) {
        let size = MemoryLayout<Header>.size
        guard length + Netlink.align(size) <= capacity else {
            overflowed = true
            return
        }
        guard let extra = mnl_nlmsg_put_extra_header(header, size) else {
            overflowed = true
            return
        }
        withUnsafeBytes(of: value) { UnsafeMutableRawBufferPointer(start: extra, count: size).copyMemory(from: $0) }
    }

    @discardableResult
    func put(_ type: UInt16, bytes: [UInt8]) -> Bool {
        record(bytes.withUnsafeBytes { mnl_attr_put_check(header, capacity, type, $0.count, $0.baseAddress) })
    }

    /// Writes straight from the caller's memory, so secret keys need no intermediate copy.
    @discardableResult
    func put(_ type: UInt16, raw: UnsafeRawBufferPointer) -> Bool {
        record(mnl_attr_put_check(header, capacity, type, raw.count, raw.baseAddress))
    }

    @discardableResult
    func put(_ type: UInt16, u8 value: UInt8) -> Bool {
        record(mnl_attr_put_u8_check(header, capacity, type, value))
    }

    @discardableResult
    func put(_ type: UInt16, u16 value: UInt16) -> Bool {
        record(mnl_attr_put_u16_check(header, capacity, type, value))
    }

    @discardableResult
    func put(_ type: UInt16, u32 value: UInt32) -> Bool {
        record(mnl_attr_put_u32_check(header, capacity, type, value))
    }

    /// A NUL-terminated string, as the kernel's NLA_NUL_STRING policies require.
    @discardableResult
    func put(_ type: UInt16, string value: String) -> Bool {
        record(mnl_attr_put_strz_check(header, capacity, type, value))
    }

    /// Opens a nest; libmnl marks it NLA_F_NESTED.
    func beginNest(_ type: UInt16) -> Nest? {
        guard let start = mnl_attr_nest_start_check(header, capacity, type) else {
            overflowed = true
            return nil
        }
        return Nest(start: start)
    }

    func end(_ nest: Nest) {
        mnl_attr_nest_end(header, nest.start)
    }

    /// Drops the nest and everything written into it.
    func cancel(_ nest: Nest) {
        mnl_attr_nest_cancel(header, nest.start)
    }

    /// Forgets an earlier refused write, for callers that react to it by splitting the request.
    func clearOverflow() {
        overflowed = false
    }

    /// The finished request; fails when any write was refused.
    func message() throws -> [UInt8] {
        guard !overflowed else {
            throw NetlinkFailure(errno: EMSGSIZE, message: "request does not fit in \(capacity) bytes")
        }
        return Array(UnsafeRawBufferPointer(start: buffer, count: length))
    }

    private func record(_ fitted: Bool) -> Bool {
        if !fitted { overflowed = true }
        return fitted
    }
}
