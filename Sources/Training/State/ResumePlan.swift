import Config
import Engine
import Foundation
import MPI
import Persistence

/// Where a run starts from when it continues a checkpoint: the file, read and verified once
/// on rank 0, its bytes broadcast so every rank decodes the same state (nodes need not share
/// a file system), and — in one place — what that state means for this run on this many
/// ranks (`continuation`).
public struct ResumePlan {
    /// What `--resume` asks for.
    public enum Request: Equatable, Sendable {
        /// The newest checkpoint in the run directory that verifies; a fresh start when there
        /// is none.
        case auto
        /// That checkpoint file, or an error saying why not.
        case path(String)
    }

    /// The checkpoint, decoded.
    public let checkpoint: CheckpointFile
    /// Its training state.
    public let state: TrainState

    /// Where the checkpoint came from, for messages.
    public var source: String { checkpoint.source }

    init(checkpoint: CheckpointFile) throws {
        self.checkpoint = checkpoint
        state = try TrainState(from: checkpoint)
    }

    // MARK: Finding and sharing

    /// Rank 0's side: the checkpoint `request` names in `directory` (a run's `checkpoints/`),
    /// read once and verified; nil for a fresh start. Skipped damaged files and a fresh start
    /// under `auto` are explained in `notes`.
    static func locate(_ request: Request, in store: CheckpointStore,
                       notes: inout [String]) throws -> (bytes: [UInt8], plan: ResumePlan)? {
        switch request {
        case let .path(path):
            guard let data = FileBytes.contents(path) else {
                _ = try CheckpointFile(contentsOf: path)   // says whether it is missing or unreadable
                throw CheckpointError(path, "cannot be read; check its permissions")
            }
            let bytes = Array(data)
            return (bytes, try ResumePlan(checkpoint: CheckpointFile(bytes: bytes, source: path)))
        case .auto:
            guard let newest = try store.newestValid(warn: { notes.append("warning: " + $0) }) else {
                notes.append("--resume auto: no checkpoint in \(store.directory); starting from the beginning")
                return nil
            }
            return (newest.bytes, try ResumePlan(checkpoint: newest.file))
        }
    }

    /// Every rank's plan from rank 0's bytes (`found`, nil on the other ranks): one
    /// broadcast; rank 0 keeps its decoded plan, the others decode their copy once.
    static func share(_ found: (bytes: [UInt8], plan: ResumePlan)?, world: Communicator) throws -> ResumePlan? {
        guard world.isDistributed else { return found?.plan }
        var length = [Int64(found?.bytes.count ?? 0)]
        try length.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        guard length[0] > 0 else { return nil }
        var bytes = world.rank == 0 ? found?.bytes ?? [] : [UInt8](repeating: 0, count: Int(length[0]))
        try bytes.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        if world.rank == 0, let plan = found?.plan { return plan }
        return try ResumePlan(checkpoint: CheckpointFile(bytes: bytes, source: "rank 0's checkpoint"))
    }

    // MARK: Continuing

    /// What continuing this checkpoint means for one rank.
    public struct Continuation {
        /// The config to train with: on another number of ranks, `train.batch_size` becomes
        /// the saved global batch over the ranks now.
        public var config: TrainConfig
        /// The run's length under that config.
        public var length: RunLength
        /// This rank's position, streams and totals.
        public var start: TrainingStart
        /// What the log should say about it.
        public var notes: [String]
    }

    /// The one place a checkpoint meets this run's config and world: the global batch kept on
    /// another world size, the state checked against the config, and this rank's start —
    /// its own streams and totals on the same world size; on another, streams derived afresh
    /// and every rank's partial epoch totals folded into rank 0's.
    /// - Throws: `TrainingError` when the checkpoint cannot continue under `config`.
    public func continuation(of given: TrainConfig, world: Communicator, trainCount: Int) throws -> Continuation {
        func refuse(_ what: String) -> TrainingError {
            TrainingError("checkpoint '\(source)' \(what); resume with the config the run was started with (its config.yaml)")
        }
        // Checkpoints name their method and model (older ones do not: their tensors are compared).
        for (key, mine) in [("method", given.train.method.rawValue), ("model", given.model.name.rawValue)] {
            if let theirs = checkpoint.metadata[key], theirs != mine {
                throw refuse("was written by a run training \(key) \(theirs); this config trains \(key) \(mine)")
            }
        }
        let s = state
        guard s.worldSize >= 1, s.augmentation.count == s.worldSize, s.dropout.count == s.worldSize,
              s.epochSums.count == s.worldSize else {
            throw CheckpointError(source, "holds per-rank state for \(s.augmentation.count) rank(s) but says it was saved on \(s.worldSize); use an older checkpoint")
        }
        var config = given
        var notes = ["resumed from \(source) at iteration \(s.iteration) (epoch \(s.epoch + 1), batch \(s.batchInEpoch))"]
        if s.worldSize != world.size {
            guard s.globalBatch % world.size == 0 else {
                throw TrainingError("\(source) was saved with a global batch of \(s.globalBatch) images, which does not split over \(world.size) ranks; resume on a number of ranks that divides it")
            }
            config.train.batchSize = s.globalBatch / world.size
        }
        let length = try RunLength(config: config, trainCount: trainCount, worldSize: world.size)
        let micro = config.train.accumulationSteps
        guard s.samplerSeed == UInt64(config.train.seed) else {
            throw refuse("was saved with train.seed \(s.samplerSeed), this config has \(config.train.seed)")
        }
        guard s.epoch <= config.train.epochs else {
            throw refuse("is at epoch \(s.epoch + 1), beyond this config's train.epochs \(config.train.epochs)")
        }
        guard s.batchInEpoch % micro == 0, s.batchInEpoch / micro <= length.iterationsPerEpoch,
              s.iteration == s.epoch * length.iterationsPerEpoch + s.batchInEpoch / micro else {
            throw refuse("is at iteration \(s.iteration) (epoch \(s.epoch + 1), batch \(s.batchInEpoch)), which does not match this config's \(length.iterationsPerEpoch) iterations per epoch of \(micro) micro-batch(es)")
        }
        var start = TrainingStart(iteration: s.iteration, epoch: s.epoch, batchInEpoch: s.batchInEpoch,
                                  augmentation: s.augmentation[0], nonFiniteSteps: s.nonFiniteSteps, metricsLines: s.metricsLines)
        if s.worldSize == world.size {
            start.augmentation = s.augmentation[world.rank]
            start.dropout = s.dropout[world.rank]
            start.totals = s.epochSums[world.rank]
        } else {
            start.augmentation = RandomGenerator(seed: UInt64(config.train.seed) &+ UInt64(s.iteration) &* 1_000_003,
                                                 purpose: .augmentation, index: UInt64(world.rank))
            start.totals = world.rank == 0 ? EpochTotals.folded(s.epochSums) : EpochTotals()
            notes[0] += "; saved on \(s.worldSize) rank(s), now \(world.size): global batch \(config.train.batchSize * world.size) kept (\(config.train.batchSize) per rank), random streams re-derived, so the continuation is not bit-identical to an uninterrupted run"
        }
        // The config as given (before the global batch is kept) is what the run was saved with.
        if s.configHash != given.hash {
            notes[0] += "; the config differs from the checkpoint's (hash \(s.configHash) → \(given.hash))"
        }
        return Continuation(config: config, length: length, start: start, notes: notes)
    }
}

/// Where one rank's training starts: the beginning, or a checkpoint's position, random
/// streams and partial epoch totals as this rank continues them.
public struct TrainingStart {
    /// Optimizer steps already taken.
    public var iteration = 0
    /// The epoch in progress.
    public var epoch = 0
    /// Loader batches of that epoch already consumed (micro-batches count one each).
    public var batchInEpoch = 0
    /// This rank's augmentation stream.
    public var augmentation: RandomGenerator
    /// This rank's dropout streams in module order; nil keeps the layers' own.
    public var dropout: [RandomGenerator]?
    /// This rank's totals of the epoch in progress.
    public var totals = EpochTotals()
    /// Steps skipped for non-finite gradients so far.
    public var nonFiniteSteps = 0
    /// `metrics.jsonl` lines so far (the run directory's file is rewritten to them).
    public var metricsLines: [String] = []

    /// The beginning of a run on `rank`: its own augmentation stream from `seed`.
    public static func fresh(seed: Int, rank: Int) -> TrainingStart {
        TrainingStart(augmentation: RandomGenerator(seed: UInt64(seed), purpose: .augmentation, index: UInt64(rank)))
    }
}
