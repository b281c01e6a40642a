import Config
import TestSupport
import XCTest

final class LRScaleTests: XCTestCase {
    func testEntriesSplitAtTheLastEqualsSign() throws {
        let scale = try XCTUnwrap(LRScale(parsing: "blocks.*=0.5"))
        XCTAssertEqual(scale.pattern, "blocks.*")
        XCTAssertEqual(scale.scale, 0.5)
        XCTAssertEqual(LRScale(parsing: "a=b=2")?.pattern, "a=b")
    }

    func testMalformedScalesAreRefused() {
        for bad in ["fc.*", "fc.*=", "=2", "fc.*=-1", "fc.*=ten", "fc.*=inf", "fc.*=0"] { XCTAssertNil(LRScale(parsing: bad), bad) }
    }
}
