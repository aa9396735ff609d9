import RelayServer
import RelayWire
import Testing

struct ConnectionAdmissionTests {
    static func v4(_ last: UInt32, port: UInt16 = 40000) -> RelayAddress { RelayAddress(ipv4: 0x0A00_0000 | last, port: port) }
    static func v6(_ high: UInt64, _ low: UInt64) -> RelayAddress { RelayAddress(high: high, low: low, port: 40000) }

    @Test func oneSourceGetsItsShareAndNoMore() {
        var admission = ConnectionAdmission(total: 10, perSource: 3)
        let refusals = (0..<5).map { admission.admit(Self.v4(1, port: UInt16(40000 + $0))) }
        #expect(refusals == [nil, nil, nil, .sourceShare, .sourceShare])
        #expect(admission.open == 3)
        #expect(admission.admit(Self.v4(2)) == nil)
        #expect(admission.held(by: Self.v4(1, port: 1)) == 3)
    }

    @Test func theTotalHoldsAcrossSources() {
        var admission = ConnectionAdmission(total: 4, perSource: 3)
        for last: UInt32 in 1...4 { #expect(admission.admit(Self.v4(last)) == nil) }
        #expect(admission.admit(Self.v4(5)) == .full)
        admission.release(Self.v4(2))
        #expect(admission.open == 3)
        #expect(admission.admit(Self.v4(5)) == nil)
    }

    @Test func anIPv6SourceIsItsSlash64() {
        var admission = ConnectionAdmission(total: 10, perSource: 2)
        #expect(admission.admit(Self.v6(0x2001_0db8_0000_0001, 1)) == nil)
        #expect(admission.admit(Self.v6(0x2001_0db8_0000_0001, 2)) == nil)
        #expect(admission.admit(Self.v6(0x2001_0db8_0000_0001, 3)) == .sourceShare)
        #expect(admission.admit(Self.v6(0x2001_0db8_0000_0002, 1)) == nil)
    }

    @Test func releasingWhatWasNeverAdmittedChangesNothing() {
        var admission = ConnectionAdmission(total: 2, perSource: 2)
        admission.release(Self.v4(9))
        #expect(admission.open == 0)
        #expect(admission.admit(Self.v4(1)) == nil)
        admission.release(Self.v4(1))
        admission.release(Self.v4(1))
        #expect(admission.open == 0)
        #expect(admission.held(by: Self.v4(1)) == 0)
    }
}
