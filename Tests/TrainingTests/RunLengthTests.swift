@testable import Training
import Config
import TestSupport
import XCTest

final class RunLengthTests: XCTestCase {
    func testStepsPerEpochComeFromEachRanksShardInWholeBatches() throws {
        var config = TrainConfig()
        config.train.batchSize = 128
        config.train.epochs = 3
        let two = try RunLength(config: config, trainCount: 60_000, worldSize: 2)
        XCTAssertEqual(two.iterationsPerEpoch, 234)   // 30,000 per rank
        XCTAssertEqual(two.scheduled, 702)
        XCTAssertEqual(two.last, 702)
        XCTAssertEqual(two.epoch(of: 234), 1)
        config.train.iterations = 100
        XCTAssertEqual(try RunLength(config: config, trainCount: 60_000, worldSize: 2).last, 100)
        config.train.iterations = 10_000
        XCTAssertEqual(try RunLength(config: config, trainCount: 60_000, worldSize: 2).last, 702, "never past the schedule")
    }

    func testImpossibleBatchesAreNamed() {
        var config = TrainConfig()
        config.train.batchSize = 100
        config.train.accumulationSteps = 3
        assertError(TrainingError.self, try RunLength(config: config, trainCount: 60_000, worldSize: 1),
                    contains: ["train.batch_size 100", "train.accumulation_steps 3"])
        config.train.accumulationSteps = 1
        assertError(TrainingError.self, try RunLength(config: config, trainCount: 150, worldSize: 2),
                    contains: ["larger than the 75 training images of each of 2 rank(s)"])
    }
}
