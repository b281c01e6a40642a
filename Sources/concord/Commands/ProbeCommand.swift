import ArgumentParser
import Coordinator
import Foundation
import MPI

/// `concord probe CONFIG --checkpoint CKPT`: the linear evaluation of a MoCo trunk.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Train a linear classifier on frozen features and report its test top-1.",
        discussion: """
            The features are the trunk of a MoCo checkpoint's query encoder (eval mode), a \
            random trunk (--init random) or the pixels (--features pixels); the classifier's \
            schedule is the config's probe: section. Under mpirun the features and the \
            classifier's training are sharded across ranks.
            Prints one JSON line with test_acc; rank 0 also appends it to probe.jsonl in the \
            run directory (run.dir) when that exists.
            """)

    @Argument(help: "The YAML configuration of the MoCo run (model, moco and probe sections).") var config: String
    @Option(help: "A checkpoint of the MoCo run (checkpoints/final.ckpt, iter-N.ckpt).") var checkpoint: String?
    @Option(help: ArgumentHelp("Trunk weights: checkpoint (default) or random.", valueName: "checkpoint|random"))
    var `init`: String = "checkpoint"
    @Option(help: ArgumentHelp("What the classifier sees: trunk (default) or pixels.", valueName: "trunk|pixels"))
    var features: String = "trunk"
    @Option(name: .customLong("set"), help: "Override a key: --set probe.lrs=[1] (repeatable).")
    var overrides: [String] = []

    func validate() throws {
        guard ["checkpoint", "random"].contains(`init`) else {
            throw ValidationError("--init '\(`init`)' is not a choice; use checkpoint or random")
        }
        guard ["trunk", "pixels"].contains(features) else {
            throw ValidationError("--features '\(features)' is not a choice; use trunk or pixels")
        }
        if features == "trunk" && `init` == "checkpoint" && checkpoint == nil {
            throw ValidationError("--checkpoint CKPT is needed for the trained trunk (or use --init random, or --features pixels)")
        }
        if checkpoint != nil && (features == "pixels" || `init` == "random") {
            throw ValidationError("--checkpoint is not used with \(features == "pixels" ? "--features pixels" : "--init random"); drop one of them")
        }
    }

    func run() throws {
        let cfg = try RankErrors.beforeWorld { try ConfigLoader.load(path: config, overrides: overrides) }
        let extractor: LinearProbe.Extractor = try RankErrors.beforeWorld {
            if features == "pixels" { return .pixels }
            if `init` == "random" { return .randomTrunk }
            return .trunk(from: try CheckpointFile(contentsOf: checkpoint ?? ""))
        }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        try RankErrors.withWorld(world) {
            let result = try LinearProbe(config: cfg, world: world).run(extractor: extractor) { line in
                FileHandle.standardError.write(Data("concord: \(line)\n".utf8))
            }
            guard world.rank == 0 else { return }
            print(result.json)
            let log = cfg.run.dir + "/probe.jsonl"
            if FileManager.default.fileExists(atPath: cfg.run.dir) {
                guard let handle = FileHandle(forUpdatingAtPath: log) ?? (FileManager.default.createFile(atPath: log, contents: nil)
                                                                          ? FileHandle(forUpdatingAtPath: log) : nil) else {
                    throw CLIError("cannot write '\(log)'; check the run directory's permissions")
                }
                defer { try? handle.close() }
                handle.seekToEndOfFile()
                handle.write(Data((result.json + "\n").utf8))
            }
        }
    }
}
