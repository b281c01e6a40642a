@testable import Training
import Foundation
import TestSupport
import XCTest

final class EpochTotalsTests: XCTestCase {
    /// The saved form is the four numbers checkpoints have always held in `epochSums`.
    func testTotalsEncodeAsTheFourNumbersOfFormatOne() throws {
        var t = EpochTotals()
        t.add(loss: 0.5, correct: 3, examples: 4)
        t.skippedSteps = 1
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(t), as: UTF8.self), "[2,3,4,1]")
        let old = try JSONDecoder().decode(EpochTotals.self, from: Data("[2.5, 3, 4, 1]".utf8))
        XCTAssertEqual(old.lossSum, 2.5)
        XCTAssertEqual(old.freshExamples, 0, "what this process trained on is not saved")
        XCTAssertEqual(EpochTotals(words: t.words).lossSum, t.lossSum)
    }

    func testFoldingRanksAddsTheirCountsAndKeepsOneSkipCount() {
        var a = EpochTotals(), b = EpochTotals()
        a.add(loss: 1, correct: 1, examples: 2)
        b.add(loss: 2, correct: 0, examples: 2)
        a.skippedSteps = 2
        b.skippedSteps = 2
        let folded = EpochTotals.folded([a, b])
        XCTAssertEqual(folded.lossSum, 6)
        XCTAssertEqual(folded.examples, 4)
        XCTAssertEqual(folded.skippedSteps, 2, "every rank counted the same skipped steps")
        XCTAssertEqual(folded.meanLoss, 1.5)
        XCTAssertEqual(folded.accuracy, 0.25)
    }
}
