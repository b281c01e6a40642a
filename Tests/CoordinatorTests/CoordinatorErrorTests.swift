import Coordinator
import XCTest

final class CoordinatorErrorTests: XCTestCase {
    func testDescriptionIsTheMessage() {
        XCTAssertEqual(CoordinatorError("bad config").description, "bad config")
    }
}
