import Config
import Datasets
import Engine
import Foundation
import MPI

/// The one training step, as the trainer, the linear probe and the bench all run it:
/// schedule → zero the gradients → per micro-batch forward and backward (the reducer's hooks
/// start allreduces as gradients become final) → reduce → non-finite guard → clip → optimizer step →
/// the objective's finish (MoCo enqueues its keys). So the bench times exactly what users run.
///
/// ```swift
/// let step = try TrainingStep(config: config, objective: objective, world: world, iterationsPerEpoch: 234)
/// let result = try step.run(iteration: i, totals: &epochTotals, next: loader.next)   // result.status
/// ```
public final class TrainingStep {
    /// What a step did.
    public enum Status: Equatable {
        /// The parameters moved.
        case stepped
        /// Some rank's gradients were not finite: every rank left its parameters as they were.
        case skippedNonFinite
        /// This rank left out the whole step (the injected `skip-step` fault).
        case leftOut
        /// A rank was asked to stop (SIGTERM / SIGINT): nothing ran; save and stop.
        case stopRequested
    }

    /// One step's outcome.
    public struct Result {
        public var status: Status
        /// The learning rate it used.
        public var learningRate = 0.0
        /// The last micro-batch's loss.
        public var loss = Float.nan
        /// Seconds the reduce waited for communication backward did not hide.
        public var exposedCommunicationSeconds = 0.0
    }

    /// What is trained.
    public let objective: any TrainingObjective
    /// The update rule over `objective.parameters`.
    public let optimizer: any Optimizer
    /// Averages the gradients across ranks.
    public let reducer: GradientReducer
    /// The learning rate and weight decay of each iteration.
    public let schedules: OptimizerSchedules
    /// Steps skipped for non-finite gradients so far (restored on resume).
    public var nonFiniteSteps = 0

    private let maxNonFiniteSteps: Int
    /// The global gradient norm steps are clipped to (0: none).
    private let clipGradNorm: Double
    private let faults: FaultInjection?
    private let note: (String) -> Void

    /// A step over `objective` with a given optimizer and schedules; the replicas are
    /// synchronised (rank 0's parameters and buffers broadcast, names and shapes checked).
    /// - Parameters:
    ///   - maxNonFiniteSteps: more skipped steps than this end the run with an error.
    ///   - faults: the fault injected into this process (tests), nil otherwise.
    ///   - note: receives a line for each skipped step (the run log and progress display).
    public init(objective: any TrainingObjective, optimizer: any Optimizer, schedules: OptimizerSchedules,
                world: Communicator, bucketCapMB: Double = 1, maxNonFiniteSteps: Int = 3, clipGradNorm: Double = 0,
                faults: FaultInjection? = nil, note: @escaping (String) -> Void = { _ in }) throws {
        self.objective = objective
        self.clipGradNorm = clipGradNorm
        self.optimizer = optimizer
        self.schedules = schedules
        self.maxNonFiniteSteps = maxNonFiniteSteps
        self.faults = faults
        self.note = note
        // Bucket cap in bytes, kept between one value and 1 GiB whatever the config says.
        let capBytes = Int(min(max(bucketCapMB * 1_048_576, 4), 1_073_741_824))
        reducer = try GradientReducer(parameters: objective.parameters, communicator: world, bucketCapBytes: capBytes)
        try reducer.synchronize(objective.parameters + objective.buffers)
    }

    /// The step a config describes: its optimizer and parameter groups (`optimizer:`), its
    /// schedules over `iterationsPerEpoch`-step epochs (`schedule:`, the linear scaling rule
    /// for `world`), its bucket cap and non-finite limit (`distributed:`).
    public convenience init(config: TrainConfig, objective: any TrainingObjective, world: Communicator,
                            iterationsPerEpoch: Int, faults: FaultInjection? = nil,
                            note: @escaping (String) -> Void = { _ in }) throws {
        let baseLR = config.baseLR(worldSize: world.size)
        if config.optimizer.layerDecay != 1 && config.train.method != .supervised {
            // The blocks' names carry the method's prefix (base_encoder., …): decay by block is a fine-tuning rule.
            throw TrainingError("optimizer.layer_decay \(config.optimizer.layerDecay) is for supervised training and fine-tuning; set it to 1.0 for train.method \(config.train.method.rawValue)")
        }
        let optimizer = try OptimizerFactory.make(config.optimizer, parameters: objective.parameters, lr: baseLR,
                                                  vitDepth: config.model.name == .vit ? config.model.depth : nil)
        try self.init(objective: objective, optimizer: optimizer,
                      schedules: OptimizerSchedules(config: config, baseLR: baseLR, iterationsPerEpoch: iterationsPerEpoch),
                      world: world, bucketCapMB: config.distributed.bucketCapMB,
                      maxNonFiniteSteps: config.distributed.maxNonfiniteSteps, clipGradNorm: config.optimizer.clipGradNorm,
                      faults: faults, note: note)
    }

    /// Runs step `iteration` on `microBatches` batches from `next` (each 1/`microBatches` of
    /// the step's batch; gradients are reduced once) and adds its losses, counts and any
    /// skipped step to `totals`. Every rank learns at the start whether any rank
    /// `stopRequested`.
    /// - Throws: `DistributedError` when the ranks are out of step, `TrainingError` after
    ///   more than the allowed non-finite steps, or the objective's errors.
    public func run(iteration: Int, microBatches: Int = 1, stopRequested: Bool = false, totals: inout EpochTotals,
                    next: () throws -> Batch?) throws -> Result {
        reducer.communicator.watchdog?.setStep(iteration)
        faults?.hangIfDue(at: iteration)
        if faults?.fires(.skipStep, at: iteration) ?? false {
            for _ in 0..<microBatches { _ = try next() }
            FileHandle.standardError.write(Data("concord: rank \(reducer.communicator.rank): fault injection: skipping step \(iteration)\n".utf8))
            return Result(status: .leftOut)
        }
        if try reducer.beginStep(iteration, microBatch: 0, of: microBatches, stopRequested: stopRequested) {
            return Result(status: .stopRequested)
        }
        var result = Result(status: .stepped)
        result.learningRate = schedules.apply(to: optimizer, at: iteration)
        OpProfile.measure("zero_grad") { optimizer.zeroGrad() }
        for m in 0..<microBatches {
            guard let batch = try next() else {
                throw TrainingError("the loader ran out of batches in the middle of step \(iteration) (micro-batch \(m + 1) of \(microBatches)); this is a bug, please report it with the config")
            }
            if m > 0 { try reducer.beginStep(iteration, microBatch: m, of: microBatches) }
            OpProfile.markNow()
            // forward
            let out = try objective.forward(batch, iteration: iteration)
            // backward (the reducer's hooks start allreduces as gradients become final)
            let poisoned = faults?.fires(.nanGradient, at: iteration) ?? false
            OpProfile.markNow()
            out.loss.backward(gradient: Tensor(shape: out.loss.shape, repeating: poisoned ? .nan : 1 / Float(microBatches)))
            result.loss = out.loss.item
            totals.add(loss: result.loss, correct: out.correct, examples: batch.count)
        }
        // reduce, guard, step
        let reduced = try OpProfile.measure("reduce.wait") { try reducer.finish() }
        result.exposedCommunicationSeconds = reduced.exposedSeconds
        if reduced.nonFinite {
            try skipNonFinite(iteration: iteration, here: reduced.nonFiniteHere)
            result.status = .skippedNonFinite
            totals.skippedSteps += 1
        } else {
            // The reduced gradients are the same bits on every rank: so is their norm.
            if clipGradNorm > 0 { GradientClipping.clip(objective.parameters.map(\.1), maxNorm: clipGradNorm) }
            OpProfile.measure("optimizer") { optimizer.step() }
        }
        try objective.finishStep(iteration: iteration)
        if let faults, faults.fires(.killAfterStep, at: iteration) { faults.crash("killed after step \(iteration)") }
        return result
    }

    /// Counts a step every rank skipped; more than `maxNonFiniteSteps` end the run.
    private func skipNonFinite(iteration: Int, here: Bool) throws {
        nonFiniteSteps += 1
        if here {
            FileHandle.standardError.write(Data("concord: rank \(reducer.communicator.rank): non-finite gradient at step \(iteration)\n".utf8))
        }
        note("step \(iteration) skipped on every rank: non-finite gradients (\(nonFiniteSteps) of at most \(maxNonFiniteSteps))")
        guard nonFiniteSteps <= maxNonFiniteSteps else {
            throw TrainingError("stopping at step \(iteration): \(nonFiniteSteps) steps had non-finite gradients, more than distributed.max_nonfinite_steps \(maxNonFiniteSteps); lower optimizer.lr or check the data")
        }
    }
}
