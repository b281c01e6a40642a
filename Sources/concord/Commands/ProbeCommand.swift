import ArgumentParser
import Config
import Foundation
import Methods
import MPI

/// `concord probe CONFIG --checkpoint CKPT`: the linear evaluation of a pre-trained trunk.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Train a linear classifier on frozen features and report its test top-1.",
        discussion: """
            The features are the trunk the config's method pre-trained, read from the \
            checkpoint (MoCo v2's query encoder, MoCo v3's base encoder, SimCLR's encoder, \
            MAE's ViT encoder or a supervised model; eval mode), a random trunk (--init \
            random) or the pixels (--features pixels); the classifier's \
            schedule is the config's probe: section. Under mpirun the features and the \
            classifier's training are sharded across ranks.
            Prints one JSON line with test_acc; rank 0 also appends it to probe.jsonl in the \
            run directory (run.dir) when that exists.
            """)

    @Argument(help: "The YAML configuration of the pre-training run (its model, train.method and probe sections).") var config: String
    @Option(help: "A checkpoint of that run (checkpoints/final.ckpt, iter-N.ckpt).") var checkpoint: String?
    @Option(help: "Trunk weights.") var `init`: LinearProbe.Initialization = .checkpoint
    @Option(help: "What the classifier sees.") var features: LinearProbe.Features = .trunk
    @Option(name: .customLong("set"), help: "Override a key: --set probe.lrs=[1] (repeatable).")
    var overrides: [String] = []

    func validate() throws {
        if let problem = LinearProbe.choiceProblem(features: features, initialization: `init`, checkpoint: checkpoint) {
            throw ValidationError(problem)
        }
    }

    func run() throws {
        let cfg = try RankErrors.beforeWorld { try ConfigLoader.load(path: config, overrides: overrides) }
        let extractor = try RankErrors.beforeWorld {
            try LinearProbe.extractor(features: features, initialization: `init`, checkpoint: checkpoint)
        }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        try RankErrors.withWorld(world) {
            let probe = LinearProbe(config: cfg, world: world)
            let result = try probe.run(extractor: extractor) { line in
                FileHandle.standardError.write(Data("concord: \(line)\n".utf8))
            }
            if world.rank == 0 { print(result.json) }
            try probe.record(result)
        }
    }
}
