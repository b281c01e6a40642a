import ArgumentParser
import Coordinator
import Foundation
import MPI

/// `concord train CONFIG`: supervised training from a YAML run configuration.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier from a YAML configuration (see configs/).",
        discussion: """
            Writes the run directory (run.dir): config.yaml (resolved), metrics.jsonl, log.txt \
            and model.safetensors. Override keys with --set, e.g. --set train.epochs=3.
            Started by mpirun (launch/run -n N, launch/cluster), each process trains on its \
            shard and gradients are averaged: N ranks × train.batch_size images per step; rank 0 \
            writes the run directory.
            """)

    @Argument(help: "YAML run configuration.") var config: String
    @Option(name: .customLong("set"), help: "Override a key: --set train.epochs=3 (repeatable).")
    var overrides: [String] = []

    func run() throws {
        // Errors are one-line descriptions (file, key, what to do); ArgumentParser prints them
        // and exits non-zero.
        let cfg = try RankErrors.beforeWorld { try ConfigLoader.load(path: config, overrides: overrides) }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        try RankErrors.withWorld(world) {
            // Rank 0 alone owns the run directory; the others learn whether it could start.
            let run = try world.agreeOnRank0 { () -> RunDirectory in
                // A finished or running run is never overwritten: its metrics and weights stay.
                if FileManager.default.fileExists(atPath: cfg.run.dir + "/metrics.jsonl") {
                    throw CLIError("run directory '\(cfg.run.dir)' already holds a run (metrics.jsonl); "
                                   + "choose another with --set run.dir=DIR or move it away")
                }
                return try RunDirectory.create(for: cfg)
            }
            let trainer = try SupervisedTrainer(config: cfg, run: run, world: world)
            try trainer.train()
        }
    }
}
