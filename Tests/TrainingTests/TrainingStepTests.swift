@testable import Training
import Config
import Datasets
import Engine
import MPI
import TestSupport
import XCTest

/// The one step in one process: schedule, micro-batches, the non-finite guard, the stop and
/// skip paths (across ranks: IntegrationTests).
final class TrainingStepTests: XCTestCase {
    /// A linear classifier on 6 features; an input of NaN makes its gradients NaN.
    final class LinearObjective: TrainingObjective {
        let layer: Linear
        var finished: [Int] = []
        init(seed: UInt64 = 1) {
            var rng = RandomGenerator(seed: seed)
            layer = Linear(6, 3, rng: &rng)
        }
        var parameters: [(String, Tensor)] { layer.namedParameters() }
        var buffers: [(String, Tensor)] { [] }
        var modules: [any Module] { [layer] }
        var summary: String { "linear" }
        var accuracyName: String? { "acc" }
        var evaluationEvery: Int { 0 }
        func setTraining(_ training: Bool) { layer.train(training) }
        func forward(_ batch: Batch, iteration: Int) throws -> ForwardResult {
            ForwardResult(loss: layer(batch.images).crossEntropy(targets: batch.labels), correct: 1)
        }
        func finishStep(iteration: Int) throws { finished.append(iteration) }
        func evaluate(batchSize: Int) throws -> [(String, Double)] { [] }
    }

    private func batch(_ rows: Int, seed: UInt64, poison: Bool = false) -> Batch {
        var rng = RandomGenerator(seed: seed)
        let x = Tensor.randn([rows, 6], rng: &rng)
        if poison { x[flat: 0] = .nan }
        return Batch(images: x, labels: (0..<rows).map { $0 % 3 }, indices: Array(0..<rows), position: 0)
    }

    private func step(_ objective: LinearObjective, lr: Schedule = Schedule(base: 0.5, segments: [.constant(iterations: nil)]),
                      maxNonFinite: Int = 3, faults: FaultInjection? = nil, notes: ((String) -> Void)? = nil) throws -> TrainingStep {
        let sgd = SGD(groups: [ParameterGroup(name: "all", parameters: objective.parameters, weightDecay: 0)], lr: 1, momentum: 0)
        return try TrainingStep(objective: objective, optimizer: sgd,
                                schedules: OptimizerSchedules(learningRate: lr),
                                world: .single(), maxNonFiniteSteps: maxNonFinite, faults: faults, note: notes ?? { _ in })
    }

    func testAStepUsesTheScheduledRateAndMovesTheParameters() throws {
        let objective = LinearObjective()
        let schedule = Schedule(base: 0.5, segments: [.linearWarmup(iterations: 10, startFactor: 0.1), .constant(iterations: nil)])
        let s = try step(objective, lr: schedule)
        let before = objective.layer.weight.values
        var totals = EpochTotals()
        let b = batch(4, seed: 2)
        let r = try s.run(iteration: 5, totals: &totals, next: { b })
        XCTAssertEqual(r.status, .stepped)
        XCTAssertEqual(r.learningRate, schedule.value(at: 5), accuracy: 1e-12)
        XCTAssertEqual(Double(s.optimizer.learningRate), schedule.value(at: 5), accuracy: 1e-7)
        XCTAssertEqual(totals.examples, 4)
        XCTAssertEqual(totals.correct, 1)
        XCTAssertEqual(totals.lossSum, Double(r.loss) * 4, accuracy: 1e-6)
        XCTAssertNotEqual(objective.layer.weight.values, before)
        XCTAssertEqual(objective.finished, [5])
        // Plain SGD: w ← w − lr·∇w, with the gradient the step left behind.
        let grad = try XCTUnwrap(objective.layer.weight.grad).values
        for i in 0..<before.count {
            XCTAssertEqual(objective.layer.weight[flat: i], before[i] - Float(schedule.value(at: 5)) * grad[i], accuracy: 1e-6)
        }
    }

    /// With `clipGradNorm`, the update uses the gradient scaled to that global norm.
    func testClippingBoundsTheStepByTheGlobalGradientNorm() throws {
        let objective = LinearObjective()
        let sgd = SGD(groups: [ParameterGroup(name: "all", parameters: objective.parameters, weightDecay: 0)], lr: 1, momentum: 0)
        let s = try TrainingStep(objective: objective, optimizer: sgd,
                                 schedules: OptimizerSchedules(learningRate: Schedule(base: 1, segments: [.constant(iterations: nil)])),
                                 world: .single(), clipGradNorm: 1e-3)
        let before = objective.parameters.flatMap { $0.1.values }
        var totals = EpochTotals()
        let b = batch(4, seed: 2)
        _ = try s.run(iteration: 0, totals: &totals, next: { b })
        let after = objective.parameters.flatMap { $0.1.values }
        let moved = zip(after, before).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
        XCTAssertEqual(moved, 1e-3, accuracy: 1e-5, "lr 1 times a gradient clipped to norm 1e-3")
        XCTAssertEqual(GradientClipping.globalNorm(objective.parameters.map(\.1)), 1e-3, accuracy: 1e-6)
    }

    /// Two micro-batches of 4 rows give the gradient of the whole batch of 8.
    func testMicroBatchesAccumulateToTheWholeBatchsGradient() throws {
        let whole = batch(8, seed: 3)
        let halves = [0, 1].map { h in
            Batch(images: Tensor(shape: [4, 6], values: Array(whole.images.values[(h * 24)..<((h + 1) * 24)])),
                  labels: Array(whole.labels[(h * 4)..<((h + 1) * 4)]), indices: Array(0..<4), position: h)
        }
        let one = LinearObjective(), two = LinearObjective()
        var totals = EpochTotals()
        _ = try step(one).run(iteration: 0, totals: &totals, next: { whole })
        var queue = halves
        var split = EpochTotals()
        _ = try step(two).run(iteration: 0, microBatches: 2, totals: &split, next: { queue.isEmpty ? nil : queue.removeFirst() })
        assertClose(two.layer.weight.values, one.layer.weight.values, rtol: 1e-5, atol: 1e-6)
        assertClose(two.layer.bias!.values, one.layer.bias!.values, rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(split.examples, 8)
    }

    func testANonFiniteGradientSkipsTheStepAndTooManyStopTheRun() throws {
        let objective = LinearObjective()
        var notes: [String] = []
        let s = try step(objective, maxNonFinite: 1, notes: { notes.append($0) })
        let before = objective.layer.weight.values
        var totals = EpochTotals()
        let bad = batch(4, seed: 4, poison: true)
        XCTAssertEqual(try s.run(iteration: 7, totals: &totals, next: { bad }).status, .skippedNonFinite)
        XCTAssertEqual(objective.layer.weight.values, before, "a skipped step leaves the parameters")
        XCTAssertEqual(totals.skippedSteps, 1)
        XCTAssertEqual(s.nonFiniteSteps, 1)
        XCTAssertEqual(objective.finished, [7], "the objective still finishes the step")
        XCTAssertEqual(notes, ["step 7 skipped on every rank: non-finite gradients (1 of at most 1)"])
        assertError(TrainingError.self, try s.run(iteration: 8, totals: &totals, next: { bad }),
                    contains: ["stopping at step 8", "distributed.max_nonfinite_steps 1"])
    }

    func testAStopRequestRunsNothing() throws {
        let objective = LinearObjective()
        let s = try step(objective)
        var totals = EpochTotals()
        var pulled = 0
        let r = try s.run(iteration: 0, stopRequested: true, totals: &totals, next: { pulled += 1; return self.batch(4, seed: 5) })
        XCTAssertEqual(r.status, .stopRequested)
        XCTAssertEqual(pulled, 0)
        XCTAssertTrue(objective.finished.isEmpty)
        XCTAssertEqual(totals, EpochTotals())
    }

    /// The injected skip-step fault: the rank consumes its micro-batches and runs nothing else.
    func testTheSkipStepFaultLeavesOutTheWholeStep() throws {
        let objective = LinearObjective()
        let s = try step(objective, faults: FaultInjection(kind: .skipStep, step: 3, rank: 0))
        let before = objective.layer.weight.values
        var totals = EpochTotals()
        var pulled = 0
        let r = try s.run(iteration: 3, microBatches: 2, totals: &totals, next: { pulled += 1; return self.batch(4, seed: 6) })
        XCTAssertEqual(r.status, .leftOut)
        XCTAssertEqual(pulled, 2)
        XCTAssertEqual(objective.layer.weight.values, before)
        XCTAssertEqual(s.reducer.reductions, 0)
        XCTAssertEqual(try s.run(iteration: 4, totals: &totals, next: { self.batch(4, seed: 6) }).status, .stepped)
    }

    /// The step a config describes gets the config's optimizer, groups and schedule.
    func testTheConfigsStepHasTheConfigsOptimizerAndSchedule() throws {
        var config = TrainConfig()
        config.optimizer.name = .adamw
        config.optimizer.lr = 0.01
        config.schedule.warmupEpochs = 1
        let s = try TrainingStep(config: config, objective: LinearObjective(), world: .single(), iterationsPerEpoch: 10)
        XCTAssertTrue(s.optimizer is AdamW)
        XCTAssertEqual(s.schedules.learningRate.value(at: 0), 0.001, accuracy: 1e-12)
        XCTAssertEqual(s.schedules.learningRate.value(at: 10), 0.01, accuracy: 1e-12)
        XCTAssertEqual(s.optimizer.groups.map(\.weightDecay), [5e-4, 0], "no decay on the bias")
    }
}
