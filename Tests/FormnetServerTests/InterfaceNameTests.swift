@testable import FormnetServer
import Testing

struct InterfaceNameTests {
    @Test func aNameIsItsBytesThenNULs() throws {
        let name = try #require(InterfaceName("mesh0"))
        let bytes = withUnsafeBytes(of: name.bytes) { Array($0) }
        #expect(bytes == Array("mesh0".utf8) + [UInt8](repeating: 0, count: 11))
    }

    @Test func namesTheKernelCannotTakeAreRefused() {
        #expect(InterfaceName("") == nil)
        #expect(InterfaceName("sixteen-chars-xx") == nil)
        #expect(InterfaceName("fifteen-chars-x") != nil)
        #expect(InterfaceName("a\u{0}b") == nil)
    }
}
