import Datagram
import Glibc
import Testing

@Suite struct SocketAddressConversionTests {
    static func roundTrip(_ address: DatagramAddress, family: Int32) -> (DatagramAddress?, socklen_t?) {
        var storage = sockaddr_storage()
        return withUnsafeMutableBytes(of: &storage) { raw in
            let length = SocketAddressConversion.write(address, family: family, to: raw.baseAddress!)
            return (SocketAddressConversion.address(from: raw.baseAddress!), length)
        }
    }

    @Test func ipv4OnAnIPv4SocketIsASockaddrIn() {
        let address = DatagramAddress(ipv4: 0xC633_6407, port: 40000)
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { SocketAddressConversion.write(address, family: AF_INET, to: $0.baseAddress!) }
        #expect(length == socklen_t(MemoryLayout<sockaddr_in>.size))
        let sin = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) }
        #expect(Int32(sin.sin_family) == AF_INET)
        #expect(UInt16(bigEndian: sin.sin_port) == 40000)
        #expect(UInt32(bigEndian: sin.sin_addr.s_addr) == 0xC633_6407)
        #expect(Self.roundTrip(address, family: AF_INET).0 == address)
    }

    @Test func ipv4OnADualStackSocketIsMapped() {
        let address = DatagramAddress(ipv4: 0x7F00_0001, port: 9)
        let (back, length) = Self.roundTrip(address, family: AF_INET6)
        #expect(length == socklen_t(MemoryLayout<sockaddr_in6>.size))
        #expect(back == address)
        #expect(back?.isIPv4 == true)
        #expect(back?.ipv4 == 0x7F00_0001)
    }

    @Test func ipv6RoundTripsAndAnIPv4SocketCannotReachIt() {
        let address = DatagramAddress(high: 0x2001_0DB8_0000_0000, low: 9, port: 40001)
        #expect(Self.roundTrip(address, family: AF_INET6).0 == address)
        #expect(Self.roundTrip(address, family: AF_INET).1 == nil)
        #expect(!address.isIPv4)
    }
}

@Suite struct DatagramBatchTests {
    static func loopbackSocket() -> (fd: Int32, address: DatagramAddress) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        #expect(SocketCalls.bind(fd, family: AF_INET, to: DatagramAddress(ipv4: 0x7F00_0001, port: 0)))
        return (fd, SocketCalls.localAddress(of: fd)!)
    }

    @Test func queuedDatagramsArriveInOrderWithTheirSender() throws {
        let (sender, from) = Self.loopbackSocket()
        let (receiver, to) = Self.loopbackSocket()
        defer { close(sender); close(receiver) }
        let batch = try #require(DatagramBatch(capacity: 4, slotSize: 64))
        for i in 0..<3 {
            batch.slot(i).initializeMemory(as: UInt8.self, repeating: UInt8(i + 1), count: 10 + i)
            #expect(batch.queue(batch.slot(i), length: 10 + i, on: sender, to: to, family: AF_INET))
        }
        #expect(batch.flush() == 0)
        var pfd = pollfd(fd: receiver, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, 1000)
        let received = batch.receive(on: receiver, offset: 5, flags: Int32(MSG_DONTWAIT))
        #expect(received == 3)
        for i in 0..<received {
            #expect(batch.length(i) == 10 + i)
            #expect(batch.source(i) == from)
            #expect(batch.slot(i).load(fromByteOffset: 5, as: UInt8.self) == UInt8(i + 1))
        }
    }

    @Test func anIPv4SocketRefusesToQueueForIPv6() throws {
        let batch = try #require(DatagramBatch(capacity: 1, slotSize: 16))
        #expect(!batch.queue(batch.slot(0), length: 1, on: 0, to: DatagramAddress(high: 1, low: 1, port: 1), family: AF_INET))
        #expect(!batch.isFull)
    }
}
