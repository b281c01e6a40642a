import ArgumentParser
import Config
import Foundation
import Methods
import MPI
import Training

/// `concord train CONFIG`: training (supervised, or self-supervised pre-training) from a YAML run configuration.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier, or pre-train with MoCo v2, SimCLR, MoCo v3 or MAE, from a YAML configuration (see configs/).",
        discussion: """
            Writes the run directory (run.dir): config.yaml (resolved), metrics.jsonl, log.txt, \
            model.safetensors and checkpoints/ (iter-N.ckpt, latest, final.ckpt). Override keys \
            with --set, e.g. --set train.epochs=3.
            Started by mpirun (launch/run -n N, launch/cluster), each process trains on its \
            shard and gradients are averaged: N ranks × train.batch_size images per step; rank 0 \
            writes the run directory.
            SIGTERM or SIGINT saves a checkpoint at the next step and exits (status 143 / 130); \
            --resume auto continues from it exactly.
            """)

    @Argument(help: "YAML run configuration.") var config: String
    @Option(name: .customLong("set"), help: "Override a key: --set train.epochs=3 (repeatable).")
    var overrides: [String] = []
    @Option(help: "Run directory (the same as --set run.dir=DIR).") var runDir: String?
    @Option(help: ArgumentHelp("Continue a run: auto (the newest checkpoint in the run directory that verifies; a fresh start when there is none) or a checkpoint path.",
                               valueName: "auto|PATH"))
    var resume: ResumePlan.Request?

    func run() throws {
        let settings = overrides + (runDir.map { ["run.dir=" + $0] } ?? [])
        let cfg = try RankErrors.beforeWorld { try ConfigLoader.load(path: config, overrides: settings) }
        try Self.runJob(cfg, resume: resume)
    }

    /// Joins the world and trains `cfg` as `concord train` does (`concord finetune` too, with
    /// its `initialize`): a stop signal saves and ends with 128 + the signal.
    static func runJob(_ cfg: TrainConfig, resume: ResumePlan.Request?,
                       initialize: ((any TrainingObjective) throws -> String)? = nil) throws {
        let faults = try RankErrors.beforeWorld { try FaultInjection.fromEnvironment() }
        try RankErrors.beforeWorld { try resume?.checkReadable() }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        StopSignal.install()
        var stopped: TrainingStopped?
        try RankErrors.withWorld(world) {
            var job = TrainingJob(config: cfg, resume: resume, world: world, faults: faults, objective: MethodRegistry.objective)
            job.initialize = initialize
            do {
                try job.run { note in FileHandle.standardError.write(Data("concord: \(note)\n".utf8)) }
            } catch let stop as TrainingStopped {
                stopped = stop
            }
        }
        if let stopped { throw ExitCode(128 + stopped.signal) }
    }
}
