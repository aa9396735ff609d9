import CNetlink
import CSodium
import Glibc

/// A netlink socket for one short conversation with the kernel: send a request, collect its
/// replies up to the ack (or NLMSG_DONE for a dump). Opened per operation, so it needs no lock.
final class NetlinkSocket {
    /// Dumps may pack up to 32 KiB per datagram once the kernel has seen a receive buffer this
    /// large (it sizes dump skbs from the last recvmsg); smaller buffers would see MSG_TRUNC.
    static let receiveBufferSize = 32768

    private let socket: OpaquePointer
    private let portID: UInt32
    private var nextSequence: UInt32
    private var receiveBuffer = [UInt8](repeating: 0, count: NetlinkSocket.receiveBufferSize)

    init(bus: Int32) throws {
        guard let socket = mnl_socket_open(bus) else { throw NetlinkFailure(errno: errno) }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw NetlinkFailure(errno: code)
        }
        self.socket = socket
        portID = mnl_socket_get_portid(socket)
        nextSequence = UInt32(truncatingIfNeeded: time(nil))
        // Extended acks give the kernel's reason in words; capped acks keep a failed large
        // request from being echoed back whole. Kernels without them simply ignore the request.
        enable(NETLINK_EXT_ACK)
        enable(NETLINK_CAP_ACK)
    }

    deinit { mnl_socket_close(socket) }

    /// Sends `request` (numbered here) and returns the data messages that answer it. Fails with
    /// the kernel's errno, or EINTR when a dump was interrupted by a concurrent change.
    @discardableResult
    func transact(_ request: [UInt8]) throws -> [NetlinkMessage] {
        guard request.count >= Netlink.headerLength else { throw NetlinkFailure(errno: EINVAL) }
        let sequence = nextSequence
        nextSequence &+= 1
        var numbered = request
        withUnsafeBytes(of: sequence) { numbered.replaceSubrange(8..<12, with: $0) }
        defer { Sodium.zero(&numbered) }
        try send(numbered)

        var replies: [NetlinkMessage] = []
        var interrupted = false
        while true {
            for message in try receive() where message.sequence == sequence && (message.portID == 0 || message.portID == portID) {
                if message.flags & Netlink.dumpInterrupted != 0 { interrupted = true }
                switch NetlinkReply(message) {
                case .data(let data): replies.append(data)
                case .ignored: continue
                case .failed(let failure): throw failure
                case .finished:
                    if interrupted { throw NetlinkFailure(errno: EINTR, message: "dump interrupted by a concurrent change") }
                    return replies
                }
            }
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == bytes.count else { throw NetlinkFailure(errno: sent < 0 ? errno : EIO) }
    }

    private func receive() throws -> [NetlinkMessage] {
        while true {
            let count = receiveBuffer.withUnsafeMutableBytes {
                mnl_socket_recvfrom(socket, $0.baseAddress, $0.count)
            }
            if count >= 0 { return NetlinkMessage.split(Array(receiveBuffer[0..<count])) }
            if errno != EINTR { throw NetlinkFailure(errno: errno) }
        }
    }

    private func enable(_ option: Int32) {
        var on: Int32 = 1
        _ = mnl_socket_setsockopt(socket, option, &on, socklen_t(MemoryLayout<Int32>.size))
    }
}
