import Data
import XCTest

final class DataErrorTests: XCTestCase {
    func testDescriptionIsTheMessage() {
        XCTAssertEqual(DataError("bad file").description, "bad file")
    }
}
