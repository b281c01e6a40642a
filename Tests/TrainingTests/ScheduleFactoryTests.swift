@testable import Training
import Config
import Foundation
import TestSupport
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

    func testStepRestartsPolynomialAndWeightDecayKinds() {
        var c = TrainConfig()
        c.train.epochs = 10
        c.schedule.warmupEpochs = 0
        c.schedule.kind = .step
        c.schedule.stepEpochs = 3
        c.schedule.gamma = 0.5
        let step = ScheduleFactory.learningRate(c, base: 0.1, iterationsPerEpoch: 10)
        XCTAssertEqual(step.value(at: 29), 0.1, accuracy: 1e-12)
        XCTAssertEqual(step.value(at: 30), 0.05, accuracy: 1e-12)
        XCTAssertEqual(step.value(at: 60), 0.025, accuracy: 1e-12)

        c.schedule.kind = .cosineRestarts
        c.schedule.restartEpochs = 2
        c.schedule.restartMult = 2
        let sgdr = ScheduleFactory.learningRate(c, base: 0.1, iterationsPerEpoch: 10)
        XCTAssertEqual(sgdr.value(at: 0), 0.1, accuracy: 1e-12)
        XCTAssertEqual(sgdr.value(at: 20), 0.1, accuracy: 1e-12, "restart after t0 = 2 epochs")
        XCTAssertEqual(sgdr.value(at: 40), 0.05, accuracy: 1e-12, "half-way through the 4-epoch second cycle")
        XCTAssertEqual(sgdr.value(at: 60), 0.1, accuracy: 1e-12)

        c.schedule.kind = .polynomial
        c.schedule.power = 1
        XCTAssertEqual(ScheduleFactory.learningRate(c, base: 0.1, iterationsPerEpoch: 10).value(at: 50), 0.05, accuracy: 1e-12)

        c.schedule.warmupEpochs = 1
        c.schedule.warmupKind = .exponential
        c.schedule.warmupStartFactor = 0.01
        XCTAssertEqual(ScheduleFactory.learningRate(c, base: 0.1, iterationsPerEpoch: 10).value(at: 5), 0.01, accuracy: 1e-12)

        c.optimizer.weightDecay = 1e-3
        c.schedule.weightDecayKind = .cosine
        c.schedule.finalWeightDecay = 1e-4
        let wd = ScheduleFactory.weightDecay(c, iterationsPerEpoch: 10)
        XCTAssertEqual(wd.value(at: 0), 1e-3, accuracy: 1e-15)
        XCTAssertEqual(wd.value(at: 50), 5.5e-4, accuracy: 1e-12)
        XCTAssertEqual(wd.value(at: 100), 1e-4, accuracy: 1e-15)
    }

    func testEMAMomentumConstantOrRisingToOne() {
        let constant = ScheduleFactory.emaMomentum(base: 0.99, cosineToOne: false, iterations: 100)
        XCTAssertEqual(constant.value(at: 0), 0.99)
        XCTAssertEqual(constant.value(at: 1000), 0.99)
        let rising = ScheduleFactory.emaMomentum(base: 0.99, cosineToOne: true, iterations: 100)
        XCTAssertEqual(rising.value(at: 0), 0.99, accuracy: 1e-12)
        XCTAssertEqual(rising.value(at: 50), 0.995, accuracy: 1e-12)
        XCTAssertEqual(rising.value(at: 100), 1, accuracy: 1e-12)
    }
}
