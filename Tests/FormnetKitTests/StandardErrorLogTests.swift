import Foundation
@testable import FormnetKit
import Testing

@Suite struct StandardErrorLogTests {
    @Test func timestampsCarryMillisecondsInUTC() {
        #expect(StandardErrorLog.timestamp(Date(timeIntervalSince1970: 1_796_626_553.214)) == "2026-12-07T06:55:53.214Z")
        #expect(StandardErrorLog.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(StandardErrorLog.timestamp(Date(timeIntervalSince1970: 59.9996)) == "1970-01-01T00:01:00.000Z")
    }
}
