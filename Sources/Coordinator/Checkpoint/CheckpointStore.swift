import Foundation

/// A run's `checkpoints/` directory: `iter-<N>.ckpt` files, a `latest` pointer, the newest
/// `keep` kept. Writes run on a background queue (the training step only builds the
/// in-memory snapshot); `wait()` blocks until they are on disk.
public final class CheckpointStore: @unchecked Sendable {
    public let directory: String
    public let keep: Int
    private let queue = DispatchQueue(label: "concord-checkpoint-writer")
    private let lock = NSLock()
    private var failure: Error?

    public init(directory: String, keep: Int) {
        self.directory = directory
        self.keep = max(keep, 1)
    }

    /// `iter-00001200.ckpt` for iteration 1200: names sort in iteration order.
    public static func fileName(iteration: Int) -> String { String(format: "iter-%08d.ckpt", iteration) }

    /// Checkpoint files in the directory, newest (highest iteration) first.
    public func checkpoints() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("iter-") && $0.hasSuffix(".ckpt") }.sorted(by: >).map { directory + "/" + $0 }
    }

    /// Queues `file` to be written as the checkpoint of `iteration`; afterwards `latest` points
    /// to it and checkpoints beyond the newest `keep` are removed. A failure is reported by
    /// the next `save` or `wait`, and never removes an older checkpoint.
    public func save(_ file: CheckpointFile, iteration: Int, slowly: Bool = false, log: @escaping @Sendable (String) -> Void) throws {
        try throwPendingFailure()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + Self.fileName(iteration: iteration)
        queue.async { [self] in
            do {
                let start = DispatchTime.now().uptimeNanoseconds
                let sizes = try file.write(to: path, pauseBeforeRename: slowly ? 2 : 0)
                try CheckpointFile.writeAtomically(Array((Self.fileName(iteration: iteration) + "\n").utf8), to: directory + "/latest")
                for old in checkpoints().dropFirst(keep) { try? FileManager.default.removeItem(atPath: old) }
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                log(String(format: "checkpoint %@: %d bytes stored in %d (%.3f×), written in %.0f ms in the background",
                           Self.fileName(iteration: iteration), sizes.rawBytes, sizes.storedBytes, sizes.ratio, ms))
            } catch {
                lock.lock(); failure = failure ?? error; lock.unlock()
            }
        }
    }

    /// Blocks until every queued checkpoint is written; throws the first failure.
    public func wait() throws {
        queue.sync {}
        try throwPendingFailure()
    }

    private func throwPendingFailure() throws {
        lock.lock(); defer { lock.unlock() }
        if let failure { self.failure = nil; throw failure }
    }

    /// The newest checkpoint that reads and verifies, skipping damaged ones with a warning
    /// through `warn`; nil when there is none.
    public func newestValid(warn: (String) -> Void) -> (path: String, file: CheckpointFile)? {
        for path in checkpoints() {
            do { return (path, try CheckpointFile(contentsOf: path)) } catch { warn("skipping \(error)") }
        }
        return nil
    }
}
