#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Engine

/// The one way Concord replaces a file: the bytes go to a temporary name in the same
/// directory (created exclusively, with the permissions of the file being replaced), are
/// flushed to disk (fsync), and only then renamed over the target; the directory is flushed
/// so the rename survives a crash. On any failure the temporary file is removed and the target
/// is untouched — a crash or a full disk never leaves half a checkpoint, config or metrics file
/// where a good one was.
///
/// ```swift
/// try AtomicFile.write(bytes, to: "runs/x/checkpoints/iter-00001200.ckpt")
/// ```
public enum AtomicFile {
    /// Replaces (or creates) `path` with `bytes`.
    /// - Parameters:
    ///   - pauseBeforeRename: seconds the finished temporary file is held back before the
    ///     rename (the injected slow-checkpoint fault, so a test can kill a run mid-write).
    ///   - failAfterBytes: fail as a full disk would after this many bytes (tests).
    /// - Throws: `FileWriteError` naming `path` and why.
    public static func write(_ bytes: [UInt8], to path: String, pauseBeforeRename: Double = 0,
                             failAfterBytes: Int? = nil) throws {
        try write(parts: [bytes], to: path, pauseBeforeRename: pauseBeforeRename, failAfterBytes: failAfterBytes)
    }

    /// Replaces (or creates) `path` with `parts` one after the other, so a large file need not
    /// be joined into one array first; otherwise as `write(_:to:)`.
    public static func write(parts: [any ContiguousBytes], to path: String, pauseBeforeRename: Double = 0,
                             failAfterBytes: Int? = nil) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = (directory == "/" ? "" : directory) + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileWriteError(path, "cannot create a temporary file in \(directory) (\(errnoText())); check that the directory exists and is writable")
        }
        var descriptorOpen = true
        var renamed = false
        defer {
            if descriptorOpen { close(fd) }
            if !renamed { unlink(temporary) }
        }
        var old = stat()
        if stat(path, &old) == 0 { _ = fchmod(fd, old.st_mode & 0o7777) }

        let total = parts.reduce(0) { sum, part in sum + part.withUnsafeBytes { $0.count } }
        let limit = min(total, failAfterBytes ?? total)
        var written = 0
        var failure: String?
        writing: for part in parts {
            var done = 0
            failure = part.withUnsafeBytes { raw -> String? in
                let end = min(limit - written, raw.count)   // of this part
                while done < end, let start = raw.baseAddress {
                    let n = posixWrite(fd, start + done, end - done)
                    if n < 0 { if errno == EINTR { continue }; return errnoText() }
                    done += n
                }
                return nil
            }
            written += done
            if failure != nil || written == limit { break writing }
        }
        if failure == nil {
            failure = failAfterBytes != nil ? "injected failure" : fsync(fd) == 0 ? nil : "fsync: " + errnoText()
        }
        if let failure {
            throw FileWriteError(path, "\(failure) after \(written) of \(total) bytes; free disk space or choose another directory")
        }
        descriptorOpen = false
        guard close(fd) == 0 else { throw FileWriteError(path, "close: \(errnoText())") }
        if pauseBeforeRename > 0 { Thread.sleep(forTimeInterval: pauseBeforeRename) }
        guard rename(temporary, path) == 0 else { throw FileWriteError(path, "rename over the target: \(errnoText())") }
        renamed = true
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 { _ = fsync(directoryFD); close(directoryFD) }
    }

    /// Replaces `path` with the UTF-8 bytes of `text`.
    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A file that could not be replaced; whatever was at the path before is still there.
public struct FileWriteError: UserInputError {
    /// The file that was to be written.
    public let path: String
    /// What went wrong and what to do.
    public let problem: String
    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }
    /// "PATH: cannot write: PROBLEM (the previous file is untouched)".
    public var description: String { "\(path): cannot write: \(problem) (the previous file is untouched)" }
}

/// POSIX `write`, out of reach of methods named `write` in the types that call it.
@inline(__always)
func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
