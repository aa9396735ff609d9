import Testing
@testable import RelayWire

@Suite struct StreamFramingTests {
    static func frame(_ length: Int, fill: UInt8) -> [UInt8] { [UInt8](repeating: fill, count: length) }

    static func read(_ stream: [UInt8], chunk: Int) throws(StreamFrameReader.Failure) -> [[UInt8]] {
        var reader = StreamFrameReader()
        var frames: [[UInt8]] = []
        var start = 0
        while start < stream.count {
            let end = min(stream.count, start + chunk)
            stream.withUnsafeBytes { reader.append(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            try reader.drain { frames.append(Array($0)) }
            start = end
        }
        return frames
    }

    @Test func writerPutsTheLengthBigEndianBeforeTheFrame() {
        var writer = StreamFrameWriter()
        ([0xAA, 0xBB, 0xCC] as [UInt8]).withUnsafeBytes { writer.append($0) }
        #expect(writer.pending == [0x00, 0x03, 0xAA, 0xBB, 0xCC])
        let long = Self.frame(RelayWire.maxFrame, fill: 7)
        long.withUnsafeBytes { writer.append($0) }
        #expect(Array(writer.pending[5..<7]) == [0x08, 0x00])
        #expect(writer.pending.count == 5 + 2 + RelayWire.maxFrame)
    }

    @Test func writeIntoABufferMatchesAppend() {
        let frame: [UInt8] = [1, 2, 3, 4]
        var buffer = [UInt8](repeating: 0xFF, count: 8)
        let written = buffer.withUnsafeMutableBytes { out in frame.withUnsafeBytes { StreamFrameWriter.write($0, into: out) } }
        var writer = StreamFrameWriter()
        frame.withUnsafeBytes { writer.append($0) }
        #expect(written == 6)
        #expect(Array(buffer[0..<6]) == writer.pending)
        #expect(Array(buffer[6...]) == [0xFF, 0xFF])
    }

    @Test func writerRefusesPastItsLimitAndForgetsWhatWasSent() {
        var writer = StreamFrameWriter(limit: 10)
        #expect(Self.frame(6, fill: 1).withUnsafeBytes { writer.append($0) })
        #expect(!Self.frame(3, fill: 2).withUnsafeBytes { writer.append($0) })
        #expect(writer.pending.count == 8)
        writer.removeSent(5)
        #expect(writer.pending == [1, 1, 1])
        writer.removeAll()
        #expect(writer.pending.isEmpty)
    }

    @Test(arguments: [1, 2, 3, 7, 500, 5000]) func readerGivesBackWhatTheWriterWrote(chunk: Int) throws {
        let frames = [Self.frame(1, fill: 1), Self.frame(51, fill: 2), Self.frame(RelayWire.maxFrame, fill: 3), Self.frame(82, fill: 4)]
        var writer = StreamFrameWriter()
        for frame in frames { frame.withUnsafeBytes { writer.append($0) } }
        #expect(try Self.read(writer.pending, chunk: chunk) == frames)
    }

    @Test func readerHoldsAPartialFrameUntilTheRestArrives() throws {
        var reader = StreamFrameReader()
        var frames: [[UInt8]] = []
        ([0x00, 0x02, 0x09] as [UInt8]).withUnsafeBytes { reader.append($0) }
        try reader.drain { frames.append(Array($0)) }
        #expect(frames.isEmpty)
        #expect(reader.pending == 3)
        ([0x08] as [UInt8]).withUnsafeBytes { reader.append($0) }
        try reader.drain { frames.append(Array($0)) }
        #expect(frames == [[0x09, 0x08]])
        #expect(reader.pending == 0)
    }

    @Test(arguments: [0, RelayWire.maxFrame + 1, 0xFFFF]) func readerRefusesABadLength(length: Int) {
        #expect(throws: StreamFrameReader.Failure.badLength(length)) {
            try Self.read([UInt8(length >> 8), UInt8(length & 0xFF), 1, 2, 3], chunk: 5)
        }
    }
}
