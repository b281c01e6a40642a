import Engine
import TestSupport
import XCTest

final class StableHashTests: XCTestCase {
    func testFNV1aMatchesPublishedVectors() {
        XCTAssertEqual(StableHash.fnv1a64(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(StableHash.fnv1a64("a"), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(StableHash.fnv1a64("foobar"), 0x8594_4171_f739_67e8)
        XCTAssertEqual(StableHash.fnv1a64([0x66, 0x6f, 0x6f, 0x62, 0x61, 0x72] as [UInt8]), StableHash.fnv1a64("foobar"))
    }

    func testHexIsSixteenLowercaseDigits() {
        XCTAssertEqual(StableHash.hex(0xab), "00000000000000ab")
        XCTAssertEqual(StableHash.hex(0x8594_4171_f739_67e8), "85944171f73967e8")
    }
}
