import Engine
import Foundation
import Persistence

/// Everything a run needs to continue exactly where it stopped, at a step boundary.
///
/// Tensors (parameters and buffers, optimizer state) are saved by name; the rest is the
/// position (global iteration, epoch, batches consumed in it), every rank's random streams
/// and partial epoch sums (gathered to rank 0), the metrics history, the config and the
/// world size. Saved as a `CheckpointFile` (`RunCheckpoint`): `model.<name>`,
/// `optimizer.<name>` (f32), `state.json` (this struct as JSON) and `config.yaml`.
///
/// The JSON keeps the names and shapes of format version 1, so every checkpoint written since
/// then resumes (`epochSums` rows are `EpochTotals`' four numbers).
public struct TrainState: Codable, Equatable {
    /// Optimizer steps completed: the schedules' position.
    public var iteration: Int
    /// The epoch in progress (the next one at an epoch boundary).
    public var epoch: Int
    /// Loader batches of `epoch` already consumed (micro-batches count one each).
    public var batchInEpoch: Int
    /// Seed of the sampler's epoch permutations (train.seed).
    public var samplerSeed: UInt64
    /// Ranks of the run that saved it.
    public var worldSize: Int
    /// Images per optimizer step over all ranks (kept when resuming on another world size).
    public var globalBatch: Int
    /// Per rank: augmentation stream after the last consumed batch.
    public var augmentation: [RandomGenerator]
    /// Per rank: dropout streams, in module order.
    public var dropout: [[RandomGenerator]]
    /// Per rank: this epoch's totals so far.
    public var epochSums: [EpochTotals]
    /// Steps skipped for non-finite gradients in the whole run.
    public var nonFiniteSteps: Int
    /// metrics.jsonl lines written so far (rewritten on resume, so no line is lost or doubled).
    public var metricsLines: [String]
    /// The config hash of the run (its model, data, train, optimizer, schedule, distributed keys).
    public var configHash: String
    /// Integers the training objective keeps besides tensors (MoCo: `queue_ptr`, the queue's
    /// next write position); absent in supervised runs.
    public var counters: [String: Int]?
    /// Format of this struct.
    public var version: Int = 1

    /// The state saved in `file`.
    public init(from file: CheckpointFile) throws {
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            self = try decoder.decode(TrainState.self, from: Data(try file.bytes("state.json")))
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(file.source, "has an unreadable state.json (\(error)); use an older checkpoint")
        }
    }

    init(iteration: Int, epoch: Int, batchInEpoch: Int, samplerSeed: UInt64, worldSize: Int, globalBatch: Int, augmentation: [RandomGenerator],
         dropout: [[RandomGenerator]], epochSums: [EpochTotals], nonFiniteSteps: Int, metricsLines: [String], configHash: String,
         counters: [String: Int] = [:]) {
        self.iteration = iteration
        self.epoch = epoch
        self.batchInEpoch = batchInEpoch
        self.samplerSeed = samplerSeed
        self.worldSize = worldSize
        self.globalBatch = globalBatch
        self.augmentation = augmentation
        self.dropout = dropout
        self.epochSums = epochSums
        self.nonFiniteSteps = nonFiniteSteps
        self.metricsLines = metricsLines
        self.configHash = configHash
        self.counters = counters.isEmpty ? nil : counters
    }
}
