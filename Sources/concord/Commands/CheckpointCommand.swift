import ArgumentParser
import Foundation
import Methods
import Persistence

/// `concord export CKPT --to FILE.safetensors [--encoder]`: a checkpoint's model, or just its
/// pre-trained encoder, for PyTorch.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model (parameters and buffers) as safetensors with torchvision / timm names.",
        discussion: """
            In PyTorch: model.load_state_dict(safetensors.torch.load_file(FILE)). With --encoder, \
            only the trunk a pre-training run trained, without its projector or decoder (a ViT \
            under timm's names, a ResNet under torchvision's): load it with strict=False into a \
            timm ViT or torchvision ResNet, or fine-tune from it with concord finetune.
            """)

    @Argument(help: "Checkpoint file (.ckpt).") var checkpoint: String
    @Option(help: "Output .safetensors file.") var to: String
    @Flag(help: "Only the pre-trained encoder (trunk), without heads.") var encoder = false

    func run() throws {
        try RankErrors.beforeWorld {
            let file = try CheckpointFile(contentsOf: checkpoint)
            var model = try file.exportModel(source: to)
            if encoder {
                var trunk = SafeTensors(source: to)
                for (name, tensor) in try PretrainedEncoder.tensors(from: file).sorted(by: { $0.key < $1.key }) { trunk.set(name, tensor) }
                trunk.metadata = model.metadata
                model = trunk
            }
            try model.write(to: to)
            print("\(to): \(model.names.count) tensors from \(checkpoint)")
        }
    }
}

/// `concord checkpoint inspect|verify|diff`: look into checkpoint files without training.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect, verify or compare checkpoint files (.ckpt).",
        subcommands: [Inspect.self, Verify.self, Diff.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a checkpoint's metadata, entries and compression.")
        @Argument(help: "Checkpoint file.") var path: String

        func run() throws {
            let stored = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            for line in try RankErrors.beforeWorld({ try CheckpointFile(contentsOf: path).inspection(storedBytes: stored) }) { print(line) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every byte of a checkpoint (header, manifest, frame checksums); exit 1 if damaged.")
        @Argument(help: "Checkpoint files.") var paths: [String]

        func run() throws {
            var failed = 0
            for path in paths {
                do {
                    let file = try CheckpointFile(contentsOf: path)
                    print("\(path): ok (\(file.entries.count) entries, iteration \(file.metadata["iteration"] ?? "?"))")
                } catch {
                    print("\(error)")
                    failed += 1
                }
            }
            if failed > 0 { throw ExitCode.failure }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-tensor max |a − b| of two checkpoints; exit 0 only when identical (or within --atol).",
            discussion: "Byte entries (the config) are reported when they differ but not counted: two runs in different directories still compare equal.")
        @Argument(help: "First checkpoint.") var a: String
        @Argument(help: "Second checkpoint.") var b: String
        @Option(help: "Largest absolute difference still counted as equal.") var atol: Double = 0

        func validate() throws {
            guard atol >= 0 else { throw ValidationError("--atol must be ≥ 0") }
        }

        func run() throws {
            let difference = try RankErrors.beforeWorld { try CheckpointFile(contentsOf: a).difference(from: CheckpointFile(contentsOf: b), atol: atol) }
            for line in difference.lines + [difference.verdict] { print(line) }
            if difference.differing > 0 { throw ExitCode.failure }
        }
    }
}
