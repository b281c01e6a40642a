import ArgumentParser
import Coordinator
import Data
import Engine
import Foundation

/// `concord export CKPT --to FILE.safetensors`: a checkpoint's model for PyTorch.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model (parameters and buffers) as safetensors with torchvision names.",
        discussion: "In PyTorch: model.load_state_dict(safetensors.torch.load_file(FILE)).")

    @Argument(help: "Checkpoint file (.ckpt).") var checkpoint: String
    @Option(help: "Output .safetensors file.") var to: String

    func run() throws {
        let file = try CheckpointFile(contentsOf: checkpoint)
        var out = SafeTensors(source: to)
        var count = 0
        for e in file.entries where e.name.hasPrefix("model.") && e.dtype == .f32 {
            out.set(String(e.name.dropFirst("model.".count)), Tensor(shape: e.shape, values: try file.floats(e.name)))
            count += 1
        }
        guard count > 0 else { throw CLIError("\(checkpoint) holds no model tensors (model.*); pass a checkpoint written by concord train") }
        out.metadata = file.metadata.merging(["source": checkpoint]) { $1 }
        try out.write(to: to)
        print("\(to): \(count) tensors from \(checkpoint)")
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
            let file = try CheckpointFile(contentsOf: path)
            let stored = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let raw = file.entries.reduce(0) { $0 + $1.bytes.count }
            print("\(path): \(file.entries.count) entries, \(raw) bytes of state in a \(stored)-byte file"
                  + String(format: " (%.3f×)", Double(raw) / Double(max(stored, 1))))
            for key in file.metadata.keys.sorted() { print("  \(key): \(file.metadata[key] ?? "")") }
            for e in file.entries {
                print("  \(e.name)  \(e.dtype.rawValue) \(e.shape.map(String.init).joined(separator: "×"))  \(e.bytes.count) bytes")
            }
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
            let x = try CheckpointFile(contentsOf: a), y = try CheckpointFile(contentsOf: b)
            var differing = 0
            for name in x.names where !y.names.contains(name) { print("\(name): only in \(a)"); differing += 1 }
            for name in y.names where !x.names.contains(name) { print("\(name): only in \(b)"); differing += 1 }
            for name in x.names where y.names.contains(name) {
                let ex = try x.entry(name), ey = try y.entry(name)
                if ex.dtype == .u8 && ey.dtype == .u8 {
                    if ex.bytes != ey.bytes { print("\(name): differs (bytes, not counted)") }
                    continue
                }
                guard ex.dtype == ey.dtype, ex.shape == ey.shape else {
                    print("\(name): \(ex.dtype.rawValue) \(ex.shape) vs \(ey.dtype.rawValue) \(ey.shape)")
                    differing += 1
                    continue
                }
                switch ex.dtype {
                case .f32:
                    let u = try x.floats(name), v = try y.floats(name)
                    // NaN against anything but the same NaN is a difference, and without a
                    // tolerance "identical" means the same bits (−0 is not +0).
                    let nanMismatch = zip(u, v).contains { $0.isNaN != $1.isNaN }
                    let difference = zip(u, v).reduce(0.0) { $1.0.isNaN || $1.1.isNaN ? $0 : max($0, abs(Double($1.0) - Double($1.1))) }
                    let differs = nanMismatch || (atol == 0 ? ex.bytes != ey.bytes : difference > atol)
                    if differs { differing += 1 }
                    print("\(name): max |Δ| " + String(format: "%.3g", difference) + (nanMismatch ? " (NaN differs)" : differs && difference == 0 ? " (bits differ)" : ""))
                case .i64:
                    let u = try x.int64s(name), v = try y.int64s(name)
                    let difference = zip(u, v).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
                    if difference > atol { differing += 1 }
                    print("\(name): max |Δ| " + String(format: "%.3g", difference))
                case .u8:
                    break   // handled above
                }
            }
            print(differing == 0 ? "identical\(atol > 0 ? " within \(atol)" : "")" : "\(differing) entries differ")
            if differing > 0 { throw ExitCode.failure }
        }
    }
}
