import Engine
import Foundation

/// One checkpoint on disk: a fixed header, a JSON manifest, then one zstd frame per entry.
///
/// ```text
/// 0   "CONCORDC"                 magic (8 bytes)
/// 8   format version             UInt32 little-endian
/// 12  manifest length L          UInt32 little-endian
/// 16  manifest FNV-1a 64         UInt64 little-endian
/// 24  manifest                   L bytes of JSON: metadata; frames (encoding, raw and stored
///                                bytes, offset); entries (name, dtype, shape, frame, start)
/// 24+L frames                    zstd frames with content size and content checksum
/// ```
///
/// All float32 entries share one frame, bit-plane shuffled before compression
/// (`BitShuffle`): one frame compresses better than one per small tensor. The other entries
/// share a second frame. Every byte is
/// covered by a check: the manifest by its hash, each frame by zstd's content checksum, the
/// file length by the manifest's offsets — so truncation, a flipped byte, a foreign file or a
/// newer format are all reported by `init(contentsOf:)`, never read as weights.
///
/// ```swift
/// var file = CheckpointFile()
/// file.set("model.fc.weight", floats: w.values, shape: w.shape)
/// file.metadata["iteration"] = "1200"
/// try file.write(to: "runs/x/checkpoints/iter-1200.ckpt")   // temp name, fsync, rename
/// let back = try CheckpointFile(contentsOf: "runs/x/checkpoints/iter-1200.ckpt")
/// ```
public struct CheckpointFile {
    /// The format this build writes and the newest it reads.
    public static let formatVersion: UInt32 = 1
    static let magic = Array("CONCORDC".utf8)
    static let headerLength = 24

    /// Element type of an entry.
    public enum DType: String, Codable, Sendable { case f32, u8, i64 }

    /// One named array.
    public struct Entry: Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Little-endian element bytes.
        public let bytes: [UInt8]
    }

    /// Free-form string facts (iteration, config hash, world size, …).
    public var metadata: [String: String] = [:]
    /// Entries in insertion order.
    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    /// Where the checkpoint came from, for messages.
    public let source: String

    /// An empty checkpoint.
    public init(source: String = "(new checkpoint)") { self.source = source }

    /// Names in insertion order.
    public var names: [String] { entries.map(\.name) }

    /// Adds or replaces a float32 entry. values: [shape.product]
    public mutating func set(_ name: String, floats values: [Float], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "checkpoint entry \(name): \(values.count) values for shape \(shape)")
        let bytes = values.withUnsafeBytes { Array($0) }
        put(Entry(name: name, dtype: .f32, shape: shape, bytes: bytes))
    }

    /// Adds or replaces a byte entry (JSON state, generator states, …).
    public mutating func set(_ name: String, bytes: [UInt8]) {
        put(Entry(name: name, dtype: .u8, shape: [bytes.count], bytes: bytes))
    }

    /// Adds or replaces an int64 entry.
    public mutating func set(_ name: String, int64s values: [Int64]) {
        put(Entry(name: name, dtype: .i64, shape: [values.count], bytes: values.withUnsafeBytes { Array($0) }))
    }

    private mutating func put(_ entry: Entry) {
        if let i = index[entry.name] { entries[i] = entry } else { index[entry.name] = entries.count; entries.append(entry) }
    }

    /// The entry called `name`.
    public func entry(_ name: String) throws -> Entry {
        guard let i = index[name] else {
            throw CheckpointError(source, "has no entry '\(name)'; it was written by another kind of run or an older Concord")
        }
        return entries[i]
    }

    /// A float32 entry's values.
    public func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        guard e.dtype == .f32 else { throw CheckpointError(source, "entry '\(name)' is \(e.dtype.rawValue), not f32") }
        return e.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// A byte entry's bytes.
    public func bytes(_ name: String) throws -> [UInt8] { try entry(name).bytes }

    /// An int64 entry's values.
    public func int64s(_ name: String) throws -> [Int64] {
        let e = try entry(name)
        guard e.dtype == .i64 else { throw CheckpointError(source, "entry '\(name)' is \(e.dtype.rawValue), not i64") }
        return e.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
    }

    // MARK: Encoding

    struct ManifestFrame: Codable {
        let encoding: String
        let bytes: Int
        let stored: Int
        let offset: Int
    }

    struct ManifestEntry: Codable {
        let name: String
        let dtype: DType
        let shape: [Int]
        let frame: Int
        let start: Int
    }

    struct Manifest: Codable {
        let metadata: [String: String]
        let frames: [ManifestFrame]
        let entries: [ManifestEntry]
    }

    /// Raw and stored (compressed) sizes of everything but the header and manifest.
    public struct Sizes: Equatable, Sendable {
        public let rawBytes: Int
        public let storedBytes: Int
        /// raw / stored.
        public var ratio: Double { storedBytes == 0 ? 1 : Double(rawBytes) / Double(storedBytes) }
    }

    /// The file's bytes. `shuffle: false` stores the float32 frame without the bit-plane
    /// shuffle (to measure what it gains).
    public func encoded(level: Int32 = 3, shuffle: Bool = true) throws -> (bytes: [UInt8], sizes: Sizes) {
        let (parts, sizes) = try encodedParts(level: level, shuffle: shuffle)
        return (Array(parts.joined()), sizes)
    }

    /// The file as its parts — header and manifest, then each frame — which written one after
    /// the other are `encoded().bytes`. Memory: one frame's raw content, its shuffled copy and
    /// the compressed frames at a time, never the whole file image on top of them.
    func encodedParts(level: Int32, shuffle: Bool) throws -> (parts: [[UInt8]], sizes: Sizes) {
        // Frame 0: every float32 entry; frame 1: the rest.
        var manifestEntries = [ManifestEntry?](repeating: nil, count: entries.count)   // in insertion order
        var frames: [[UInt8]] = [], manifestFrames: [ManifestFrame] = []
        var offset = 0, rawBytes = 0
        for frame in 0..<2 {
            let members = entries.indices.filter { (entries[$0].dtype == .f32 ? 0 : 1) == frame }
            var content: [UInt8] = []
            content.reserveCapacity(members.reduce(0) { $0 + entries[$1].bytes.count })
            for i in members {
                let e = entries[i]
                manifestEntries[i] = ManifestEntry(name: e.name, dtype: e.dtype, shape: e.shape, frame: frame, start: content.count)
                content += e.bytes
            }
            let shuffled = shuffle && frame == 0
            if shuffled { content = content.withUnsafeBytes { BitShuffle.shuffle($0) } }
            let stored = try content.withUnsafeBytes { try Zstd.compress($0, level: level) }
            manifestFrames.append(ManifestFrame(encoding: shuffled ? "zstd+bitshuffle32" : "zstd", bytes: content.count,
                                                stored: stored.count, offset: offset))
            offset += stored.count
            rawBytes += content.count
            frames.append(stored)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = Array(try encoder.encode(Manifest(metadata: metadata, frames: manifestFrames, entries: manifestEntries.compactMap { $0 })))
        var head = Self.magic
        head.reserveCapacity(Self.headerLength + json.count)
        append(&head, Self.formatVersion)
        append(&head, UInt32(json.count))
        append(&head, StableHash.fnv1a64(json))
        head += json
        return ([head] + frames, Sizes(rawBytes: rawBytes, storedBytes: offset))
    }

    /// Reads and checks a checkpoint held in memory.
    public init(bytes: [UInt8], source: String) throws {
        self.source = source
        guard !bytes.isEmpty else { throw CheckpointError(source, "is empty (a write was interrupted); use an older checkpoint") }
        guard bytes.count >= Self.headerLength, Array(bytes[0..<8]) == Self.magic else {
            throw CheckpointError(source, "is not a Concord checkpoint (no CONCORDC header); pass a .ckpt file from a run's checkpoints/ directory")
        }
        let version: UInt32 = Self.read(bytes, at: 8)
        guard version <= Self.formatVersion else {
            throw CheckpointError(source, "has format version \(version), newer than this build reads (\(Self.formatVersion)); use a newer Concord")
        }
        let length = Int(Self.read(bytes, at: 12) as UInt32)
        let hash: UInt64 = Self.read(bytes, at: 16)
        guard bytes.count >= Self.headerLength + length else {
            throw CheckpointError(source, "is truncated: \(bytes.count) bytes, the manifest alone needs \(Self.headerLength + length); use an older checkpoint")
        }
        let json = Array(bytes[Self.headerLength..<(Self.headerLength + length)])
        guard StableHash.fnv1a64(json) == hash, let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(json)) else {
            throw CheckpointError(source, "has a corrupted manifest (checksum mismatch); use an older checkpoint")
        }
        let dataStart = Self.headerLength + length
        // Every number of the manifest is checked before it is added or multiplied: a damaged
        // (or crafted) one must be an error, never an arithmetic overflow.
        let limit = 1 << 48   // beyond any file; sums of a few such numbers cannot overflow
        guard manifest.frames.allSatisfy({ (0...limit).contains($0.offset) && (0...limit).contains($0.stored) && $0.bytes >= 0 }) else {
            throw CheckpointError(source, "has a frame record no file could hold; use an older checkpoint")
        }
        let expectedEnd = dataStart + manifest.frames.reduce(0) { min($0 + $1.stored, limit) }
        guard bytes.count == expectedEnd else {
            throw CheckpointError(source, bytes.count < expectedEnd
                ? "is truncated: \(bytes.count) of \(expectedEnd) bytes; use an older checkpoint"
                : "has \(bytes.count - expectedEnd) unexpected bytes after its last frame; use an older checkpoint")
        }
        metadata = manifest.metadata
        var contents: [[UInt8]] = []
        for (i, f) in manifest.frames.enumerated() {
            let start = dataStart + f.offset
            guard f.offset >= 0, f.stored >= 0, f.bytes >= 0, start + f.stored <= bytes.count else {
                throw CheckpointError(source, "frame \(i) has an inconsistent manifest record; use an older checkpoint")
            }
            let payload: [UInt8]
            do {
                payload = try bytes[start..<(start + f.stored)].withUnsafeBytes { try Zstd.decompress($0, size: f.bytes) }
            } catch {
                throw CheckpointError(source, "frame \(i) is corrupted (\(error)); use an older checkpoint")
            }
            switch f.encoding {
            case "zstd": contents.append(payload)
            case "zstd+bitshuffle32": contents.append(BitShuffle.unshuffle(payload))
            default: throw CheckpointError(source, "frame \(i) uses encoding '\(f.encoding)', unknown to this build; use a newer Concord")
            }
        }
        for m in manifest.entries {
            let size = Self.byteCount(shape: m.shape, dtype: m.dtype)
            guard let size, contents.indices.contains(m.frame), m.start >= 0, m.start <= contents[m.frame].count,
                  size <= contents[m.frame].count - m.start else {
                throw CheckpointError(source, "entry '\(m.name)' has an inconsistent manifest record; use an older checkpoint")
            }
            put(Entry(name: m.name, dtype: m.dtype, shape: m.shape, bytes: Array(contents[m.frame][m.start..<(m.start + size)])))
        }
    }

    /// Reads and checks the checkpoint at `path`.
    public init(contentsOf path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError(path, "does not exist; list the run's checkpoints/ directory for the ones there are")
        }
        guard let data = FileBytes.contents(path) else {
            throw CheckpointError(path, "cannot be read; check its permissions")
        }
        try self.init(bytes: Array(data), source: path)
    }

    /// Writes the checkpoint to `path` with `AtomicFile`: a crash or a full disk never
    /// leaves a partial file there, and an existing file at `path` stays intact if anything
    /// fails. Returns the sizes.
    /// - Parameter pauseBeforeRename: see `AtomicFile.write` (the slow-checkpoint fault).
    @discardableResult
    public func write(to path: String, level: Int32 = 3, pauseBeforeRename: Double = 0) throws -> Sizes {
        let (parts, sizes) = try encodedParts(level: level, shuffle: true)
        do { try AtomicFile.write(parts: parts, to: path, pauseBeforeRename: pauseBeforeRename) } catch let error as FileWriteError {
            throw CheckpointError(path, "cannot be written: \(error.problem); the previous checkpoint is untouched")
        }
        return sizes
    }

    // MARK: Helpers

    static func size(_ dtype: DType) -> Int {
        switch dtype { case .f32: return 4; case .u8: return 1; case .i64: return 8 }
    }

    /// Bytes of a tensor of `shape`, or nil for a negative dimension or a product that overflows.
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var count = size(dtype)
        for d in shape {
            guard d >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    private func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    private static func read<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { dst in
            for i in 0..<MemoryLayout<T>.size { dst[i] = bytes[offset + i] }
        }
        return T(littleEndian: value)
    }
}

/// A checkpoint that cannot be read or written: one line naming the file and what to do.
public struct CheckpointError: UserInputError {
    /// "checkpoint 'PATH' …".
    public let description: String

    /// "checkpoint 'SOURCE' PROBLEM".
    public init(_ source: String, _ problem: String) { description = "checkpoint '\(source)' \(problem)" }
}
