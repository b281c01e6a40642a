@testable import Config
import TestSupport
import XCTest

/// `KeySuggestion`: edit distance and "did you mean".
final class KeySuggestionTests: XCTestCase {
    func testDistanceCountsTranspositionsOnce() {
        XCTAssertEqual(KeySuggestion.distance("train", "train"), 0)
        XCTAssertEqual(KeySuggestion.distance("trian", "train"), 1)
        XCTAssertEqual(KeySuggestion.distance("epoch", "epochs"), 1)
        XCTAssertEqual(KeySuggestion.distance("", "abc"), 3)
        XCTAssertEqual(KeySuggestion.distance("Train", "train"), 0)
        XCTAssertEqual(KeySuggestion.distance("kitten", "sitting"), 3)
    }

    func testSuggestsOnlyPlausibleTypos() {
        let keys = ConfigSchema.keys
        XCTAssertEqual(KeySuggestion.forKey("train.epoch", among: keys), "train.epochs")
        XCTAssertEqual(KeySuggestion.forKey("train.batchsize", among: keys), "train.batch_size")
        XCTAssertEqual(KeySuggestion.forKey("train.batch-size", among: keys), "train.batch_size")
        XCTAssertEqual(KeySuggestion.forKey("schedule.lr", among: keys), "optimizer.lr")
        XCTAssertNil(KeySuggestion.forKey("train.frobnicate", among: keys))
        XCTAssertNil(KeySuggestion.closest(to: "xyz", among: ["sgd", "adamw", "lars"]))
        XCTAssertEqual(KeySuggestion.closest(to: "adam", among: ["sgd", "adamw", "lars"]), "adamw")
    }
}
