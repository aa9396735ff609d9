import Glibc

/// Preallocated slots and message headers for recvmmsg/sendmmsg: a loop receives a batch into
/// the slots, queues the answers (usually from the slots they arrived in), and sends each run of
/// datagrams bound for the same socket with one sendmmsg. Nothing is allocated per datagram.
///
/// One loop thread owns a batch; the unchecked Sendable lets that thread hand it into state it
/// reaches under a lock.
public final class DatagramBatch: @unchecked Sendable {
    /// Datagrams per batch.
    public let capacity: Int
    public let slotSize: Int
    /// `capacity` slots of `slotSize` bytes, back to back.
    public let storage: UnsafeMutableRawPointer
    @usableFromInline let receiveNames: UnsafeMutablePointer<sockaddr_storage>
    @usableFromInline let receiveVectors: UnsafeMutablePointer<iovec>
    @usableFromInline let receiveHeaders: UnsafeMutablePointer<MultipleMessageHeader>
    @usableFromInline let sendNames: UnsafeMutablePointer<sockaddr_storage>
    @usableFromInline let sendVectors: UnsafeMutablePointer<iovec>
    @usableFromInline let sendHeaders: UnsafeMutablePointer<MultipleMessageHeader>
    @usableFromInline let sendSockets: UnsafeMutablePointer<Int32>
    /// Datagrams queued and not yet sent.
    @usableFromInline var queued = 0
    private let receiveFunction: BatchedDatagramIO.ReceiveFunction
    private let sendFunction: BatchedDatagramIO.SendFunction

    /// MSG_WAITFORONE: block for the first datagram only, then take what is queued.
    public static let waitForOne = BatchedDatagramIO.waitForOne

    /// Nil when the C library lacks recvmmsg/sendmmsg.
    public init?(capacity: Int, slotSize: Int) {
        guard let receive = BatchedDatagramIO.receive, let send = BatchedDatagramIO.send else { return nil }
        receiveFunction = receive
        sendFunction = send
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        receiveNames = .allocate(capacity: capacity)
        receiveNames.initialize(repeating: sockaddr_storage(), count: capacity)
        receiveVectors = .allocate(capacity: capacity)
        receiveVectors.initialize(repeating: iovec(), count: capacity)
        receiveHeaders = .allocate(capacity: capacity)
        receiveHeaders.initialize(repeating: MultipleMessageHeader(), count: capacity)
        sendNames = .allocate(capacity: capacity)
        sendNames.initialize(repeating: sockaddr_storage(), count: capacity)
        sendVectors = .allocate(capacity: capacity)
        sendVectors.initialize(repeating: iovec(), count: capacity)
        sendHeaders = .allocate(capacity: capacity)
        sendHeaders.initialize(repeating: MultipleMessageHeader(), count: capacity)
        sendSockets = .allocate(capacity: capacity)
        sendSockets.initialize(repeating: -1, count: capacity)
    }

    deinit {
        storage.deallocate()
        receiveNames.deallocate()
        receiveVectors.deallocate()
        receiveHeaders.deallocate()
        sendNames.deallocate()
        sendVectors.deallocate()
        sendHeaders.deallocate()
        sendSockets.deallocate()
    }

    @inlinable
    public func slot(_ index: Int) -> UnsafeMutableRawPointer { storage + index * slotSize }

    /// Receives up to a batch from `fd`, each datagram into its slot from `offset` on; returns
    /// how many arrived (0 on none or an error).
    public func receive(on fd: Int32, offset: Int = 0, flags: Int32) -> Int {
        for i in 0..<capacity {
            receiveVectors[i] = iovec(iov_base: slot(i) + offset, iov_len: slotSize - offset)
            receiveHeaders[i].header.msg_name = UnsafeMutableRawPointer(receiveNames + i)
            receiveHeaders[i].header.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            receiveHeaders[i].header.msg_iov = receiveVectors + i
            receiveHeaders[i].header.msg_iovlen = 1
        }
        return max(0, Int(receiveFunction(fd, receiveHeaders, UInt32(capacity), flags, nil)))
    }

    /// The length of the `index`th datagram received.
    @inlinable
    public func length(_ index: Int) -> Int { Int(receiveHeaders[index].length) }

    /// The sender of the `index`th datagram received; nil for a family other than IPv4/IPv6.
    @inlinable
    public func source(_ index: Int) -> DatagramAddress? { SocketAddressConversion.address(from: receiveNames + index) }

    /// Queues `length` bytes at `start` for `fd`, to `destination` as a socket of `family` writes
    /// it, or to the socket's connected peer when nil. False (nothing queued) when the family
    /// cannot reach the destination. The bytes must stay put until `flush`.
    @inlinable
    @discardableResult
    public func queue(_ start: UnsafeRawPointer, length: Int, on fd: Int32, to destination: DatagramAddress? = nil,
                      family: Int32 = AF_INET6) -> Bool {
        precondition(queued < capacity)
        var nameLength: socklen_t = 0
        if let destination {
            guard let written = SocketAddressConversion.write(destination, family: family, to: sendNames + queued) else { return false }
            nameLength = written
        }
        sendSockets[queued] = fd
        sendVectors[queued] = iovec(iov_base: UnsafeMutableRawPointer(mutating: start), iov_len: length)
        sendHeaders[queued].header.msg_name = destination == nil ? nil : UnsafeMutableRawPointer(sendNames + queued)
        sendHeaders[queued].header.msg_namelen = nameLength
        sendHeaders[queued].header.msg_iov = sendVectors + queued
        sendHeaders[queued].header.msg_iovlen = 1
        queued += 1
        return true
    }

    /// Whether another datagram can be queued before a flush.
    @inlinable
    public var isFull: Bool { queued == capacity }

    /// Sends what is queued, one sendmmsg per run of datagrams for the same socket, and empties
    /// the queue; returns how many could not be sent. A datagram the kernel refuses (unreachable
    /// destination, full buffer) is skipped and the rest still go.
    @discardableResult
    public func flush(flags: Int32 = 0) -> Int {
        var failures = 0
        var first = 0
        while first < queued {
            var end = first + 1
            while end < queued, sendSockets[end] == sendSockets[first] { end += 1 }
            var sent = first
            while sent < end {
                let n = Int(sendFunction(sendSockets[first], sendHeaders + sent, UInt32(end - sent), flags))
                if n > 0 {
                    sent += n
                } else if errno != EINTR {
                    failures += 1
                    sent += 1
                }
            }
            first = end
        }
        queued = 0
        return failures
    }
}
