import ArgumentParser
import Config
import Engine
import Foundation
import Methods
import MPI
import Persistence
import Training

/// `concord finetune CONFIG --checkpoint CKPT|FILE.safetensors`: supervised training of the
/// whole network, its trunk starting from a pre-trained encoder.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a pre-trained encoder: supervised training whose trunk starts from a checkpoint or an exported encoder.",
        discussion: """
            CONFIG is a supervised configuration with the pre-training run's model keys (for a \
            ViT, optimizer.layer_decay gives MAE's layer-wise learning-rate decay). --checkpoint \
            takes a pre-training checkpoint (MAE, MoCo v3, MoCo v2, SimCLR or supervised; its \
            encoder is found by the method its config.yaml names) or a safetensors file \
            `concord export --encoder` wrote. The head is new; everything else of the run is as \
            `concord train`: the run directory, --resume auto (from the fine-tuning run's own \
            checkpoints), mpirun.
            """)

    @Argument(help: "YAML run configuration (train.method supervised).") var config: String
    @Option(help: "Pre-training checkpoint (.ckpt) or exported encoder (.safetensors).") var checkpoint: String
    @Option(name: .customLong("set"), help: "Override a key: --set train.epochs=3 (repeatable).")
    var overrides: [String] = []
    @Option(help: "Run directory (the same as --set run.dir=DIR).") var runDir: String?
    @Option(help: ArgumentHelp("Continue the fine-tuning run: auto or a checkpoint path.", valueName: "auto|PATH"))
    var resume: ResumePlan.Request?

    func run() throws {
        let settings = overrides + (runDir.map { ["run.dir=" + $0] } ?? [])
        let cfg = try RankErrors.beforeWorld { try ConfigLoader.load(path: config, overrides: settings) }
        try RankErrors.beforeWorld {
            guard cfg.train.method == .supervised else {
                throw CLIError("\(config): train.method is \(cfg.train.method.rawValue); fine-tuning trains with labels: use a supervised config (train.method: supervised) with the pre-training run's model keys")
            }
        }
        let encoder = try RankErrors.beforeWorld { try Self.encoder(at: checkpoint) }
        try TrainCommand.runJob(cfg, resume: resume) { [checkpoint] objective in
            let fresh = try PretrainedEncoder.load(encoder, into: objective.parameters + objective.buffers, source: checkpoint)
            return "fine-tuning from \(checkpoint): \(encoder.count) pre-trained tensors; new: " + fresh.joined(separator: ", ")
        }
    }

    /// The encoder's tensors in a checkpoint or an exported safetensors file.
    static func encoder(at path: String) throws -> [String: Tensor] {
        if path.hasSuffix(".safetensors") {
            let file = try SafeTensors(contentsOf: path)
            return Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensor($0)) })
        }
        return try PretrainedEncoder.tensors(from: CheckpointFile(contentsOf: path))
    }
}
