import Engine
import Foundation

/// A run's `checkpoints/` directory: `iter-<N>.ckpt` files, a `latest` pointer, the newest
/// `keep` kept.
///
/// A save is finished when it returns. (Writing in the background while the next steps run
/// was tried: the encoder's transient copies then add to the step's own peak — 53 MiB over
/// a 391 MiB step for MoCo v3's ViT — for a saving of ~0.2 s an epoch.)
public final class CheckpointStore: Sendable {
    public let directory: String
    public let keep: Int

    public init(directory: String, keep: Int) {
        self.directory = directory
        self.keep = max(keep, 1)
    }

    /// `iter-00001200.ckpt` for iteration 1200: names sort in iteration order.
    public static func fileName(iteration: Int) -> String { String(format: "iter-%08d.ckpt", iteration) }

    /// Checkpoint files in the directory, newest (highest iteration) first; none when the
    /// directory does not exist.
    /// - Throws: `CheckpointError` when it exists but cannot be listed.
    public func checkpoints() throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw CheckpointError(directory, "cannot be listed (\(error.localizedDescription)); check its permissions")
        }
        return names.filter { $0.hasPrefix("iter-") && $0.hasSuffix(".ckpt") }.sorted(by: >).map { directory + "/" + $0 }
    }

    /// The iteration in a checkpoint file name, or nil.
    static func iteration(of path: String) -> Int? {
        let name = (path as NSString).lastPathComponent
        guard name.hasPrefix("iter-"), name.hasSuffix(".ckpt") else { return nil }
        return Int(name.dropFirst(5).dropLast(5))
    }

    /// Prepares the directory for a run that starts at `iteration` (rank 0, before training):
    /// checkpoints of later iterations — left by an abandoned continuation — are renamed
    /// `stale-iter-….ckpt` so neither pruning nor `--resume auto` confuses them with this
    /// run's, and temporary files of killed writers are removed.
    public func prepare(startingAt iteration: Int) throws {
        for path in try checkpoints() where (Self.iteration(of: path) ?? 0) > iteration {
            let stale = directory + "/stale-" + (path as NSString).lastPathComponent
            try? FileManager.default.removeItem(atPath: stale)
            try? FileManager.default.moveItem(atPath: path, toPath: stale)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }

    /// Writes `file` as the checkpoint of `iteration`; then `latest` points to it and
    /// checkpoints beyond the newest `keep` are removed. A failure never removes or damages
    /// an older checkpoint.
    /// - Parameter pauseBeforeRename: see `AtomicFile.write` (the slow-checkpoint fault).
    /// - Returns: the sizes and the milliseconds the write took.
    @discardableResult
    public func save(_ file: CheckpointFile, iteration: Int, pauseBeforeRename: Double = 0) throws -> (sizes: CheckpointFile.Sizes, milliseconds: Double) {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw CheckpointError(directory, "cannot be created (\(error.localizedDescription)); check that the run directory is writable")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let sizes = try file.write(to: directory + "/" + Self.fileName(iteration: iteration), pauseBeforeRename: pauseBeforeRename)
        try AtomicFile.write(Self.fileName(iteration: iteration) + "\n", to: directory + "/latest")
        // Only older checkpoints are pruned, never the one just written.
        let older = try checkpoints().filter { (Self.iteration(of: $0) ?? 0) < iteration }
        for old in older.dropFirst(keep - 1) { try? FileManager.default.removeItem(atPath: old) }
        return (sizes, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }

    /// The newest checkpoint that reads and verifies, skipping damaged ones with a warning
    /// through `warn`; nil when there is none.
    /// The file's bytes come back with it, read once, so what was verified is what is used.
    public func newestValid(warn: (String) -> Void) throws -> (path: String, bytes: [UInt8], file: CheckpointFile)? {
        for path in try checkpoints() {
            do {
                guard let data = FileBytes.contents(path) else {
                    throw CheckpointError(path, "cannot be read; check its permissions")
                }
                let bytes = Array(data)
                return (path, bytes, try CheckpointFile(bytes: bytes, source: path))
            } catch {
                warn("skipping \(error)")
            }
        }
        return nil
    }
}
