import RelayWire
import Testing
import WireGuard

@Suite struct DataFrameTests {
    @Test func headerBytesMatchTheDocumentedLayout() {
        let header = DataFrameHeader(peer: Fixture.keyA, sessionID: 0x0102_0304_0506_0708, timestamp: 0x1112_1314_1516_1718, flags: 0x5A)
        let frame = header.wrap([0xDE, 0xAD])
        var expected: [UInt8] = [0x01, 0x03]
        expected += Fixture.keyA.bytes
        expected += [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
        expected += [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]
        expected += [0x5A, 0xDE, 0xAD]
        #expect(frame == expected)
        #expect(frame.count == 51 + 2)
        let decoded = frame.withUnsafeBytes { DataFrameHeader.unwrap($0) }
        #expect(decoded?.header == header)
        #expect(decoded?.payload == 51..<53)
    }

    @Test func rejectsEmptyPayloadOversizeWrongTypeAndVersion() {
        let header = DataFrameHeader(peer: Fixture.keyA, sessionID: 1, timestamp: 2)
        #expect(header.wrap([UInt8]()).withUnsafeBytes { DataFrameHeader.decode($0) } == nil)
        #expect(header.wrap([UInt8](repeating: 0, count: RelayWire.maxPayload)).withUnsafeBytes { DataFrameHeader.decode($0) } != nil)
        #expect(header.wrap([UInt8](repeating: 0, count: RelayWire.maxPayload + 1)).withUnsafeBytes { DataFrameHeader.decode($0) } == nil)
        var wrongVersion = header.wrap([1])
        wrongVersion[0] = 0x02
        #expect(wrongVersion.withUnsafeBytes { DataFrameHeader.decode($0) } == nil)
        var wrongType = header.wrap([1])
        wrongType[1] = 0x05
        #expect(wrongType.withUnsafeBytes { DataFrameHeader.decode($0) } == nil)
    }
}
