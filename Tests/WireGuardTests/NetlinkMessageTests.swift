import Glibc
import Testing
@testable import WireGuard

@Suite struct NetlinkMessageTests {
    typealias E = NetlinkTestEncoding

    @Test func bufferSizeIsWhatLibmnlUses() {
        let page = sysconf(Int32(_SC_PAGESIZE))
        #expect(NetlinkMessageBuilder.socketBufferSize == min(page, 8192))
    }

    @Test func familyResolveRequestBytes() throws {
        let expected: [UInt8] = [
            // nlmsghdr: len 36, type GENL_ID_CTRL 0x10, flags REQUEST|ACK 0x0005, seq 0, pid 0
            36, 0, 0, 0, 0x10, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // genlmsghdr: cmd CTRL_CMD_GETFAMILY 3, version 1, reserved 0
            3, 1, 0, 0,
            // nlattr: len 14, type CTRL_ATTR_FAMILY_NAME 2, "wireguard\0", 2 bytes padding
            14, 0, 2, 0,
            0x77, 0x69, 0x72, 0x65, 0x67, 0x75, 0x61, 0x72, 0x64, 0, 0, 0,
        ]
        #expect(try GenericNetlinkFamily.resolveRequest(name: "wireguard") == expected)
    }

    @Test func familyIDFromControllerReply() {
        let reply = E.message(type: 0x10, flags: 0, payload: [1, 2, 0, 0]
            + E.attribute(1, E.le16(0x1b))           // CTRL_ATTR_FAMILY_ID
            + E.string(2, "wireguard"))              // CTRL_ATTR_FAMILY_NAME
        #expect(GenericNetlinkFamily.familyID(from: NetlinkMessage.split(reply)) == 0x1b)
    }

    @Test func ackIsFinished() {
        let ack: [UInt8] = [
            // nlmsghdr: len 36, type NLMSG_ERROR 2, flags NLM_F_CAPPED 0x100, seq 9, pid 0
            36, 0, 0, 0, 2, 0, 0x00, 0x01, 9, 0, 0, 0, 0, 0, 0, 0,
            // error 0
            0, 0, 0, 0,
            // the request's nlmsghdr, echoed
            32, 0, 0, 0, 16, 0, 0x05, 0, 9, 0, 0, 0, 0, 0, 0, 0,
        ]
        let messages = NetlinkMessage.split(ack)
        #expect(messages.count == 1)
        #expect(messages.first?.sequence == 9)
        #expect(messages.map(NetlinkReply.init) == [.finished])
    }

    @Test func errorWithoutExtendedAck() {
        let error: [UInt8] = [
            // nlmsghdr: len 36, type NLMSG_ERROR, flags NLM_F_CAPPED
            36, 0, 0, 0, 2, 0, 0x00, 0x01, 1, 0, 0, 0, 0, 0, 0, 0,
            // error -19 (ENODEV)
            0xED, 0xFF, 0xFF, 0xFF,
            // echoed request header
            28, 0, 0, 0, 0x1b, 0, 0x05, 0x03, 1, 0, 0, 0, 0, 0, 0, 0,
        ]
        #expect(NetlinkMessage.split(error).map(NetlinkReply.init) == [.failed(NetlinkFailure(errno: ENODEV))])
    }

    @Test func errorWithExtendedAckAfterCappedEcho() {
        let text = "mtu greater than device maximum"
        let tlvs = E.string(1, text)                 // NLMSGERR_ATTR_MSG
            + E.attribute(2, E.le32(32))             // NLMSGERR_ATTR_OFFS
        let error = E.message(type: 2, flags: 0x0300,  // NLM_F_CAPPED | NLM_F_ACK_TLVS
                              payload: E.le32(UInt32(bitPattern: -EINVAL))
                                + E.le32(40) + E.le16(16) + E.le16(0x05) + E.le32(1) + E.le32(0)
                                + tlvs)
        #expect(NetlinkMessage.split(error).map(NetlinkReply.init)
                == [.failed(NetlinkFailure(errno: EINVAL, message: text))])
    }

    @Test func errorWithExtendedAckAfterFullEcho() {
        // Without NETLINK_CAP_ACK the whole request (here 22 bytes, aligned to 24) is echoed
        // before the TLVs.
        let request = E.message(type: 16, flags: 0x05, payload: [1, 2, 3, 4, 5, 6])
        let echoed = request + [0, 0]
        let error = E.message(type: 2, flags: 0x0200,
                              payload: E.le32(UInt32(bitPattern: -EOPNOTSUPP)) + echoed
                                + E.string(1, "Unknown device type"))
        #expect(NetlinkMessage.split(error).map(NetlinkReply.init)
                == [.failed(NetlinkFailure(errno: EOPNOTSUPP, message: "Unknown device type"))])
    }

    @Test func extendedAckPointingPastTheMessageIsIgnored() {
        // The echoed header claims 4000 bytes that are not there: no TLVs are read.
        let error = E.message(type: 2, flags: 0x0200,
                              payload: E.le32(UInt32(bitPattern: -EPERM)) + E.le32(4000) + E.le16(16)
                                + E.le16(5) + E.le32(0) + E.le32(0))
        #expect(NetlinkMessage.split(error).map(NetlinkReply.init) == [.failed(NetlinkFailure(errno: EPERM))])
    }

    @Test func truncatedErrorIsAProtocolError() {
        let error = E.message(type: 2, flags: 0, payload: E.le32(0))
        #expect(NetlinkMessage.split(error).map(NetlinkReply.init)
                == [.failed(NetlinkFailure(errno: EPROTO, message: "truncated netlink error message"))])
    }

    @Test func multipartDumpUntilDone() {
        let part1 = E.message(type: 16, flags: 0x02, sequence: 5, payload: [UInt8](repeating: 0, count: 16))
        let part2 = E.message(type: 16, flags: 0x02, sequence: 5, payload: [UInt8](repeating: 1, count: 20))
        let done = E.message(type: 3, flags: 0x02, sequence: 5, payload: E.le32(0))
        let replies = NetlinkMessage.split(part1 + part2 + done).map(NetlinkReply.init)
        #expect(replies.count == 3)
        guard case .data(let first) = replies[0], case .data(let second) = replies[1] else {
            Issue.record("expected two data messages, got \(replies)")
            return
        }
        #expect(first.flags & Netlink.multi != 0 && first.payload.count == 16)
        #expect(second.payload == [UInt8](repeating: 1, count: 20))
        #expect(replies[2] == .finished)
    }

    @Test func doneWithErrorFails() {
        let done = E.message(type: 3, flags: 0x0202, payload: E.le32(UInt32(bitPattern: -EMSGSIZE))
                               + E.string(1, "dump too large"))
        #expect(NetlinkMessage.split(done).map(NetlinkReply.init)
                == [.failed(NetlinkFailure(errno: EMSGSIZE, message: "dump too large"))])
    }

    @Test func splitStopsAtAHeaderThatOverrunsTheDatagram() {
        let whole = E.message(type: 16, flags: 0, payload: [UInt8](repeating: 7, count: 8))
        var lying = E.message(type: 16, flags: 0, payload: [UInt8](repeating: 8, count: 8))
        lying[0] = 200
        #expect(NetlinkMessage.split(whole + lying).count == 1)
        for cut in 0..<whole.count {
            #expect(NetlinkMessage.split(Array(whole.prefix(cut))).isEmpty)
        }
    }

    @Test func attributesAreBoundedByTheirBuffer() {
        let valid = E.attribute(1, E.le32(42)) + E.string(2, "wg0")
        #expect(NetlinkAttribute.parse(valid) == [
            NetlinkAttribute(type: 1, payload: E.le32(42)),
            NetlinkAttribute(type: 2, payload: Array("wg0".utf8) + [0]),
        ])
        for cut in 0..<valid.count {
            let parsed = NetlinkAttribute.parse(Array(valid.prefix(cut)))
            #expect(parsed.count == (cut >= 8 ? 1 : 0))
        }
        let overlong = E.le16(64) + E.le16(1) + E.le32(0)
        #expect(NetlinkAttribute.parse(overlong).isEmpty)
    }

    @Test func attributeReadersCheckTheSize() {
        let attribute = NetlinkAttribute(type: 1, payload: [1, 0, 0])
        #expect(attribute.u8 == nil && attribute.u16 == nil && attribute.u32 == nil && attribute.u64 == nil)
        #expect(NetlinkAttribute(type: 1, payload: E.le16(0xBEEF)).u16 == 0xBEEF)
        #expect(NetlinkAttribute(type: 1, payload: E.le64(1 << 40)).u64 == 1 << 40)
        #expect(NetlinkAttribute(type: 1, payload: Array("abc".utf8)).string == "abc")
        #expect(NetlinkAttribute(type: 1, payload: [0xFF, 0xFE]).string == nil)
    }

    @Test func builderRefusesWhatDoesNotFit() throws {
        let builder = NetlinkMessageBuilder(type: 16, flags: 1, capacity: 24)
        #expect(builder.put(1, u32: 7))
        #expect(!builder.put(2, u32: 8))
        #expect(builder.length == 24)
        #expect(throws: NetlinkFailure(errno: EMSGSIZE, message: "request does not fit in 24 bytes")) {
            try builder.message()
        }
    }

    @Test func cancelledNestLeavesNoTrace() throws {
        let builder = NetlinkMessageBuilder(type: 16, flags: 1, capacity: 64)
        let kept = try #require(builder.beginNest(1))
        builder.put(1, u8: 9)
        builder.end(kept)
        let dropped = try #require(builder.beginNest(2))
        builder.put(1, u32: 10)
        builder.cancel(dropped)
        #expect(try builder.message() == [
            // nlmsghdr: len 28, type 16, flags 1
            28, 0, 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // nest: len 12, type 1 | NLA_F_NESTED
            12, 0, 0x01, 0x80,
            // u8 attribute: len 5, type 1, value 9, 3 bytes padding
            5, 0, 1, 0, 9, 0, 0, 0,
        ])
    }
}
