import Foundation

/// What every fuzz target shares: the input as bytes, as text, or as a file for the parsers
/// that read paths (kept in /dev/shm, memory, so a run is not bound by the disk).
public enum FuzzInput {
    private static let directory: String = {
        let dir = (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
            + "/concord-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// The input's bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Writes the input to `name` in this process's scratch directory and returns the path.
    @discardableResult
    public static func file(_ bytes: [UInt8], name: String) -> String {
        let path = directory + "/" + name
        if !FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
            fatalError("fuzz: cannot write \(path)")  // the harness's own scratch space, not the input
        }
        return path
    }

    /// This process's scratch directory (for targets that read a directory of files).
    public static var scratchDirectory: String { directory }
}
