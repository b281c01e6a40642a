import Engine
import Foundation

/// Everything a run needs to continue exactly where it stopped, at a step boundary.
///
/// Tensors (parameters and buffers, optimizer state) are saved by name; the rest is the
/// position (global iteration, epoch, batches consumed in it), every rank's random streams
/// and partial epoch sums (gathered to rank 0), the metrics history, the config and the
/// world size. Saved as a `CheckpointFile`:
/// `model.<name>`, `optimizer.<name>` (f32), `state.json` (this struct's scalars), and
/// `config.yaml`.
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
    /// Per rank: this epoch's loss sum, correct count, examples and skipped steps so far.
    public var epochSums: [[Double]]
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

    /// The checkpoint file for `self` plus tensors: `model` and `optimizer` entries.
    func checkpointFile(model: [(String, Tensor)], optimizer: [(String, Tensor)], configYAML: String) throws -> CheckpointFile {
        var file = CheckpointFile()
        for (name, t) in model { file.set("model." + name, floats: t.values, shape: t.shape) }
        for (name, t) in optimizer { file.set("optimizer." + name, floats: t.values, shape: t.shape) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A non-finite loss (a skipped step) must not make the state unsavable.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        file.set("state.json", bytes: Array(try encoder.encode(self)))
        file.set("config.yaml", bytes: Array(configYAML.utf8))
        file.metadata = ["kind": "train-state", "iteration": String(iteration), "epoch": String(epoch),
                         "config_hash": configHash, "world_size": String(worldSize)]
        for (name, value) in counters ?? [:] { file.metadata[name] = String(value) }
        return file
    }

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
         dropout: [[RandomGenerator]], epochSums: [[Double]], nonFiniteSteps: Int, metricsLines: [String], configHash: String,
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
