@testable import Coordinator
import Foundation
import XCTest

final class ScheduleFactoryTests: XCTestCase {
    func config(_ edit: (inout TrainConfig) -> Void) -> TrainConfig {
        var c = TrainConfig()
        c.train.epochs = 10
        edit(&c)
        return c
    }

    func testWarmupEpochsBecomeIterationsThenCosineEndsAtFinal() {
        let c = config { $0.schedule.warmupEpochs = 1; $0.schedule.warmupStartFactor = 0.1; $0.schedule.kind = .cosine }
        let s = ScheduleFactory.learningRate(c, base: 0.1, iterationsPerEpoch: 100)
        XCTAssertEqual(s.value(at: 0), 0.01, accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 100), 0.1, accuracy: 1e-12)            // warm-up over after one epoch
        XCTAssertEqual(s.value(at: 550), 0.05, accuracy: 1e-12)           // half-way through 900 cosine iterations
        XCTAssertEqual(s.value(at: 999), 0.1 * (1 + cos(Double.pi * 899 / 900)) / 2, accuracy: 1e-12)
    }

    func testMultistepMilestonesAreEpochs() {
        let c = config { $0.schedule.warmupEpochs = 0.5; $0.schedule.kind = .multistep
                         $0.schedule.milestones = [3, 6]; $0.schedule.gamma = 0.1 }
        let s = ScheduleFactory.learningRate(c, base: 1, iterationsPerEpoch: 100)
        XCTAssertEqual(s.value(at: 299), 1, accuracy: 1e-12)
        XCTAssertEqual(s.value(at: 300), 0.1, accuracy: 1e-12)            // epoch 3 starts at iteration 300
        XCTAssertEqual(s.value(at: 600), 0.01, accuracy: 1e-12)
    }
}


