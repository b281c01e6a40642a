import Config
import Engine
import Foundation
import Persistence

/// The directory one run writes to (rank 0 only):
///
/// - `config.yaml` — the resolved config (`TrainConfig.yaml()`), enough to reproduce the run;
/// - `metrics.jsonl` — one JSON object per line, keys sorted;
/// - `log.txt` — human-readable lines;
/// - `checkpoints/` — owned by the checkpoint store; only its path is defined here.
///
/// Existing files are appended to, not truncated, so a resumed run continues its own history.
/// Safe to use from several threads (e.g. the training loop and a checkpoint writer).
public final class RunDirectory: @unchecked Sendable {
    /// The directory, as given (relative paths are relative to the working directory).
    public let path: String

    /// `<path>/config.yaml`.
    public var configPath: String { path + "/config.yaml" }
    /// `<path>/metrics.jsonl`.
    public var metricsPath: String { path + "/metrics.jsonl" }
    /// `<path>/log.txt`.
    public var logPath: String { path + "/log.txt" }
    /// `<path>/checkpoints`, for the checkpoint store (not created here).
    public var checkpointsPath: String { path + "/checkpoints" }

    private let lock = NSLock()
    private var handles: [String: FileHandle] = [:]

    /// Opens the run directory at `path`, creating it and any missing parents.
    /// - Throws: `TrainingError` naming `path` when it can't be created or isn't a directory.
    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw TrainingError("run directory '\(path)' exists but is not a directory; "
                                       + Self.hint)
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw TrainingError("cannot create run directory '\(path)': \(SystemError.reason(error)); "
                                       + Self.hint)
            }
        }
        guard access(path, W_OK) == 0 else {
            throw TrainingError("run directory '\(path)' is not writable (\(String(cString: strerror(errno)))); " + Self.hint)
        }
    }

    /// Opens (creating) `config.run.dir` and writes `config.yaml` into it.
    public static func create(for config: TrainConfig) throws -> RunDirectory {
        let directory = try RunDirectory(path: config.run.dir)
        try directory.writeConfig(config)
        return directory
    }

    deinit {
        for handle in handles.values { try? handle.close() }
    }

    /// Writes `config.yaml` (replacing it) atomically: a crash mid-write leaves the old file,
    /// never half a config.
    public func writeConfig(_ config: TrainConfig) throws {
        do { try AtomicFile.write(config.yaml(), to: configPath) } catch let error as FileWriteError {
            throw TrainingError("\(error); " + Self.hint)
        }
    }

    /// Appends `record` to `metrics.jsonl` as one JSON object with sorted keys.
    ///
    /// Each line goes to the OS in a single `write`, with no user-space buffer, so a killed
    /// process loses no record it has returned from (an OS crash still can: no fsync per line).
    public func appendMetrics(_ record: [String: MetricValue]) throws {
        try appendMetricsLine(MetricValue.jsonObject(record))
    }

    /// Appends one already-encoded JSON object line to `metrics.jsonl`.
    public func appendMetricsLine(_ line: String) throws {
        try append(line + "\n", to: metricsPath)
    }

    /// Replaces `metrics.jsonl` with `lines` (a resumed run's history as its checkpoint saved
    /// it, so an epoch recorded after that checkpoint is neither lost nor doubled).
    public func rewriteMetrics(_ lines: [String]) throws {
        lock.lock()
        defer { lock.unlock() }
        if let h = handles.removeValue(forKey: metricsPath) { try? h.close() }
        let text = lines.map { $0 + "\n" }.joined()
        do { try AtomicFile.write(text, to: metricsPath) } catch let error as FileWriteError {
            throw TrainingError("\(error); " + Self.hint)
        }
    }

    /// Appends one line (a JSON record) to the file `name` in the run directory, e.g.
    /// `probe.jsonl`.
    public func appendRecord(_ line: String, toFile name: String) throws {
        try append(line + "\n", to: path + "/" + name)
    }

    /// Appends `line` to `log.txt`, adding the newline if it has none.
    public func appendLog(_ line: String) throws {
        try append(line.hasSuffix("\n") ? line : line + "\n", to: logPath)
    }

    // MARK: - Private

    private static let hint = "choose another directory with --set run.dir=PATH"

    private func append(_ text: String, to file: String) throws {
        lock.lock()
        defer { lock.unlock() }
        do {
            try handle(for: file).write(contentsOf: Data(text.utf8))
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError("cannot write \(file): \(SystemError.reason(error)); " + Self.hint)
        }
    }

    /// Kept open between calls: metrics are appended every few iterations.
    private func handle(for file: String) throws -> FileHandle {
        if let handle = handles[file] { return handle }
        if !FileManager.default.fileExists(atPath: file),
           !FileManager.default.createFile(atPath: file, contents: nil) {
            throw TrainingError("cannot create \(file); check that the run directory is writable, or "
                                   + Self.hint)
        }
        guard let handle = FileHandle(forWritingAtPath: file) else {
            throw TrainingError("cannot open \(file) for writing; check its permissions, or " + Self.hint)
        }
        _ = try handle.seekToEnd()
        handles[file] = handle
        return handle
    }

}
