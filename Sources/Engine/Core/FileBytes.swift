import Foundation

/// The one way Concord reads a whole file from outside: data sets, images, checkpoints,
/// configs, hostfiles.
///
/// An empty file is answered here, without Foundation's reader: swift-foundation's
/// `readBytesFromFile` (behind `Data(contentsOf:)` and `FileManager.contents(atPath:)`)
/// leaks a 4 KiB buffer for every file of size 0 (found by `launch/fuzz numpy`), and empty
/// files are exactly what interrupted copies and fuzzers produce.
public enum FileBytes {
    /// The bytes of the file at `path`; `mapped` maps a file instead of copying it (pages are
    /// read when touched and shared between the processes of a node).
    /// - Throws: Foundation's error when the file is missing or cannot be read
    ///   (`SystemError.reason` words it).
    public static func read(_ path: String, mapped: Bool = false) throws -> Data {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if (attributes[.size] as? NSNumber)?.intValue == 0, attributes[.type] as? FileAttributeType == .typeRegular {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            return Data()
        }
        return try Data(contentsOf: URL(fileURLWithPath: path), options: mapped ? .alwaysMapped : [])
    }

    /// The bytes of the file at `path`, or nil when it cannot be read.
    public static func contents(_ path: String) -> Data? { try? read(path) }

    /// The file at `path` as UTF-8 text, or nil when it cannot be read or is not UTF-8.
    public static func text(_ path: String) -> String? { contents(path).flatMap { String(data: $0, encoding: .utf8) } }
}
