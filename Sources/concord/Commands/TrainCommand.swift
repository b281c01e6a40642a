import ArgumentParser
import Coordinator
import Foundation
import MPI

/// `concord train CONFIG`: training (supervised, or MoCo v2 pre-training) from a YAML run configuration.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier, or pre-train with MoCo v2, from a YAML configuration (see configs/).",
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
    var resume: String?

    func run() throws {
        let settings = overrides + (runDir.map { ["run.dir=" + $0] } ?? [])
        var cfg = try RankErrors.beforeWorld { try ConfigLoader.load(path: config, overrides: settings) }
        if let resume, resume != "auto", !FileManager.default.fileExists(atPath: resume) {
            // Checked before MPI starts so every rank reports it the same way.
            _ = try RankErrors.beforeWorld { try CheckpointFile(contentsOf: resume) }
        }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        StopSignal.install()
        var stopped: TrainingStopped?
        try RankErrors.withWorld(world) {
            // Rank 0 alone owns the run directory and finds the checkpoint; every rank gets
            // the checkpoint's bytes, so nodes need not share a file system.
            var notes: [String] = []
            let (run, found) = try world.agreeOnRank0(status: RankErrors.exitStatus) { () -> (RunDirectory, (path: String, bytes: [UInt8])?) in
                let found = try locateCheckpoint(cfg, notes: &notes)
                let store = CheckpointStore(directory: cfg.run.dir + "/checkpoints", keep: cfg.checkpoint.keep)
                // A finished or running run is never overwritten: its metrics, weights and
                // checkpoints stay.
                let hasCheckpoints = try !store.checkpoints().isEmpty
                if resume == nil && (FileManager.default.fileExists(atPath: cfg.run.dir + "/metrics.jsonl") || hasCheckpoints) {
                    throw CLIError("run directory '\(cfg.run.dir)' already holds a run; continue it with "
                                   + "--resume auto, or choose another with --run-dir DIR or move it away")
                }
                if let found { try adjustForWorldSize(&cfg, checkpoint: found.bytes, source: found.path, ranks: world.size) }
                let run = try RunDirectory.create(for: cfg)
                let start = try found.map { try TrainState(from: CheckpointFile(bytes: $0.bytes, source: $0.path)).iteration } ?? 0
                try store.prepare(startingAt: start)
                // A fresh start under --resume auto (killed before its first checkpoint)
                // begins an empty history.
                if found == nil && resume != nil { try run.rewriteMetrics([]) }
                return (run, found)
            } ?? (nil, nil)
            let file = try shareCheckpoint(found?.bytes ?? [], source: found?.path ?? "rank 0's checkpoint", world: world)
            if let file, world.rank != 0 {
                try adjustForWorldSize(&cfg, checkpoint: nil, file: file, source: file.source, ranks: world.size)
            }
            let trainer = try Trainer(config: cfg, run: run, world: world)
            if let file {
                let note = try trainer.restore(file)
                notes.append(note)
            }
            for note in notes {
                try run?.appendLog(note)
                if world.rank == 0 { FileHandle.standardError.write(Data("concord: \(note)\n".utf8)) }
            }
            do {
                try trainer.train()
            } catch let stop as TrainingStopped {
                try run?.appendLog(stop.description)
                if world.rank == 0 { FileHandle.standardError.write(Data("concord: \(stop)\n".utf8)) }
                stopped = stop
            }
        }
        if let stopped { throw ExitCode(128 + stopped.signal) }
    }

    /// On another world size the global batch is kept: `train.batch_size` becomes the saved
    /// global batch over `ranks` (which must divide it).
    private func adjustForWorldSize(_ cfg: inout TrainConfig, checkpoint bytes: [UInt8]?, file: CheckpointFile? = nil,
                                    source: String, ranks: Int) throws {
        let decoded = try file ?? CheckpointFile(bytes: bytes ?? [], source: source)
        let state = try TrainState(from: decoded)
        guard state.worldSize != ranks else { return }
        guard state.globalBatch % ranks == 0 else {
            throw CLIError("\(source) was saved with a global batch of \(state.globalBatch) images, which does not split over \(ranks) ranks; resume on a number of ranks that divides it")
        }
        cfg.train.batchSize = state.globalBatch / ranks
    }

    /// The checkpoint `--resume` names, read once on rank 0; nil for a fresh start.
    private func locateCheckpoint(_ cfg: TrainConfig, notes: inout [String]) throws -> (path: String, bytes: [UInt8])? {
        guard let resume else { return nil }
        if resume != "auto" {
            guard let data = FileManager.default.contents(atPath: resume) else {
                _ = try CheckpointFile(contentsOf: resume)   // says whether it is missing or unreadable
                throw CheckpointError(resume, "cannot be read")
            }
            let bytes = Array(data)
            _ = try TrainState(from: CheckpointFile(bytes: bytes, source: resume))   // verifies, or says what is wrong
            return (resume, bytes)
        }
        let store = CheckpointStore(directory: cfg.run.dir + "/checkpoints", keep: cfg.checkpoint.keep)
        guard let newest = try store.newestValid(warn: { notes.append("warning: " + $0) }) else {
            notes.append("--resume auto: no checkpoint in \(cfg.run.dir)/checkpoints; starting from the beginning")
            return nil
        }
        return (newest.path, newest.bytes)
    }

    /// Rank 0's checkpoint bytes on every rank, decoded.
    private func shareCheckpoint(_ bytes: [UInt8], source: String, world: Communicator) throws -> CheckpointFile? {
        var length = [Int64(bytes.count)]
        try length.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        guard length[0] > 0 else { return nil }
        var shared = world.rank == 0 ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        try shared.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        return try CheckpointFile(bytes: shared, source: source)
    }
}
