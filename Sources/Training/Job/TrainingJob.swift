import Config
import Engine
import Foundation
import MPI
import Persistence

/// What `concord train` does on every rank of a job: set the process up, load the data,
/// agree on where the run starts (a fresh run directory, or a checkpoint rank 0 found and
/// every rank received), build the method's objective and train.
///
/// Rank 0 alone owns the run directory: it refuses one that already holds a run unless the
/// job resumes, writes the resolved config, and moves checkpoints of an abandoned
/// continuation aside. Its errors reach every rank (`agreeOnRank0`), so no rank is left
/// waiting in a collective.
///
/// ```swift
/// let job = TrainingJob(config: config, resume: .auto, world: world, faults: nil, objective: MethodRegistry.objective)
/// try job.run { note in print(note) }
/// ```
public struct TrainingJob {
    public let config: TrainConfig
    /// What `--resume` asks for; nil for a fresh run.
    public let resume: ResumePlan.Request?
    public let world: Communicator
    /// The fault `CONCORD_FAULT` asks for (tests), for whichever rank it names.
    public let faults: FaultInjection?
    /// The method registry: builds the objective `train.method` names.
    public let makeObjective: ObjectiveFactory
    /// Run on a fresh start (not a resume) once the objective is built, before rank 0's
    /// weights reach every rank: `concord finetune` copies a pre-trained encoder in. Returns
    /// a line for the log.
    public var initialize: ((any TrainingObjective) throws -> String)?

    public init(config: TrainConfig, resume: ResumePlan.Request?, world: Communicator, faults: FaultInjection?,
                objective: @escaping ObjectiveFactory) {
        self.config = config
        self.resume = resume
        self.world = world
        self.faults = faults
        makeObjective = objective
    }

    /// Trains to the end; `notify` gets what rank 0 says about the start (resumed from where,
    /// skipped checkpoints, world-size changes), which also goes to the log.
    /// - Throws: `TrainingStopped` after saving when a signal asked to stop.
    @discardableResult
    public func run(notify: (String) -> Void = { _ in }) throws -> [Trainer.EpochMetrics] {
        ProcessSetup.configure(threads: config.train.threads, model: config.model.name)
        if world.isDistributed && config.distributed.timeoutS > 0 && world.watchdog == nil {
            world.watchdog = CollectiveWatchdog(rank: world.rank, size: world.size, timeout: config.distributed.timeoutS,
                                                heartbeats: config.run.dir + "/heartbeats")
        }
        let store = CheckpointStore(directory: config.run.dir + "/checkpoints", keep: config.checkpoint.keep)
        // A finished or running run is never overwritten — its metrics, weights and checkpoints
        // stay — and is refused before any data is read or cached into its directory.
        _ = try world.agreeOnRank0 {
            let hasCheckpoints = try !store.checkpoints().isEmpty
            if resume == nil && (FileManager.default.fileExists(atPath: config.run.dir + "/metrics.jsonl") || hasCheckpoints) {
                throw TrainingError("run directory '\(config.run.dir)' already holds a run; continue it with "
                                    + "--resume auto, or choose another with --run-dir DIR or move it away")
            }
        }
        try checkRunDirectoryIsShared()
        let data = try TrainingData(config: config, world: world)
        // Rank 0: the checkpoint (read and verified once) and the run directory.
        var notes: [String] = []
        var opened = try world.agreeOnRank0 { () -> Opening in
            let found = try resume.flatMap { try ResumePlan.locate($0, in: store, notes: &notes) }
            let continuation = try found?.plan.continuation(of: config, world: world, trainCount: data.train.count)
            // A config that cannot run fails here, before the run directory is touched.
            if continuation == nil { _ = try RunLength(config: config, trainCount: data.train.count, worldSize: world.size) }
            let run = try RunDirectory.create(for: continuation?.config ?? config)
            try store.prepare(startingAt: found?.plan.state.iteration ?? 0)
            // A fresh start under --resume auto (killed before its first checkpoint) begins an empty history.
            if found == nil && resume != nil { try run.rewriteMetrics([]) }
            return Opening(run: run, found: found, continuation: continuation)
        }
        // Every rank: the same checkpoint, continued in one place.
        var plan = try ResumePlan.share(opened?.found, world: world)
        let continuation = try opened?.continuation ?? plan?.continuation(of: config, world: world, trainCount: data.train.count)
        let trained = continuation?.config ?? config
        let length = try continuation?.length ?? RunLength(config: trained, trainCount: data.train.count, worldSize: world.size)
        let faults = self.faults?.onRank(world.rank, resumed: plan != nil)

        var rng = RandomGenerator(seed: UInt64(trained.train.seed), purpose: .initialization)
        let context = MethodContext(config: trained, world: world, data: data, scheduledIterations: length.scheduled, faults: faults)
        let objective = try makeObjective(context, &rng)
        if plan == nil, let initialize { notes.append(try initialize(objective)) }
        if var resumed = continuation?.notes {
            if let plan, plan.state.worldSize != world.size,
               let note = objective.worldSizeChangeNote(savedRanks: plan.state.worldSize, ranks: world.size) {
                resumed[0] += "; " + note
            }
            notes += resumed
        }
        let trainer = try Trainer(config: trained, objective: objective, data: data, length: length, world: world,
                                  run: opened?.run, start: continuation?.start ?? .fresh(seed: trained.train.seed, rank: world.rank),
                                  checkpoint: plan?.checkpoint, faults: faults)
        // The checkpoint's bytes and tensors are in the model now; held through training they
        // would add about twice the state to every step's memory (29 MiB for MoCo v3's ViT).
        let run = opened?.run
        (opened, plan) = (nil, nil)
        for note in notes {
            try run?.appendLog(note)
            if world.rank == 0 { notify(note) }
        }
        do {
            return try trainer.train()
        } catch let stop as TrainingStopped {
            try run?.appendLog(stop.description)
            if world.rank == 0 { notify(stop.description) }
            throw stop
        }
    }
}

/// What rank 0 opened before the job could start.
private struct Opening {
    let run: RunDirectory
    let found: (bytes: [UInt8], plan: ResumePlan)?
    let continuation: ResumePlan.Continuation?
}

extension ResumePlan.Request {
    /// `--resume VALUE`: `auto`, or a checkpoint path.
    public init(_ argument: String) { self = argument == "auto" ? .auto : .path(argument) }

    /// Fails now, before any process joins a job, when the named checkpoint does not exist or
    /// cannot be read (every rank would fail the same way later).
    public func checkReadable() throws {
        guard case let .path(path) = self, !FileManager.default.isReadableFile(atPath: path) else { return }
        _ = try CheckpointFile(contentsOf: path)
    }
}
