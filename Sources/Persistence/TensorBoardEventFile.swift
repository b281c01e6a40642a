#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>.<n>`) of scalars,
/// written natively: TFRecord framing around hand-encoded `Event` protobuf messages.
///
/// ```text
/// record:  UInt64 length | UInt32 masked CRC-32C of those 8 bytes | Event | UInt32 masked CRC-32C of Event
/// Event:   wall_time (1, double) · step (2, varint) · file_version (3) | summary (5) | session_log (7)
/// Summary: value (1) × n — Value: tag (1, string) · simple_value (2, float)
/// ```
///
/// Scalars are `simple_value`s, what PyTorch's `SummaryWriter.add_scalar` writes, so every
/// TensorBoard reads them as scalars. Each record is one `write`, so a reader following the
/// file never sees half a record for long. A resumed run opens a new file that starts with a
/// `SessionLog` START at its first step: TensorBoard then drops the older files' points past
/// that step, the ones the interrupted run logged after its checkpoint.
///
/// ```swift
/// let events = try TensorBoardEventFile(directory: "runs/x")
/// try events.add([("train/loss", 0.41), ("train/lr", 0.1)], step: 1200)
/// ```
public final class TensorBoardEventFile {
    /// The file's path.
    public let path: String
    private let descriptor: Int32
    private nonisolated(unsafe) static var filesOpened = 0

    /// Creates a new event file in `directory` and writes its version record.
    /// - Throws: `FileWriteError` naming the file when it cannot be created or written.
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        var host = [CChar](repeating: 0, count: 256)
        let hostName = gethostname(&host, host.count - 1) == 0 ? String(cString: host) : "localhost"
        let number = Self.filesOpened
        Self.filesOpened += 1
        path = directory + "/" + String(format: "events.out.tfevents.%010d.", Int(wallTime)) + "\(hostName).\(getpid()).\(number)"
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileWriteError(path, "cannot be created (\(String(cString: strerror(errno)))); check that the run directory is writable")
        }
        var event = Self.eventHeader(wallTime: wallTime, step: 0)
        event.string(3, "brain.Event:2")
        var source = ProtobufMessage()
        source.string(1, "concord")
        event.message(10, source)
        try append(event)
    }

    deinit { close(descriptor) }

    /// Marks a (re)start at `step`: TensorBoard forgets earlier files' points beyond it.
    public func startSession(at step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        var status = ProtobufMessage()
        status.varint(1, 1)   // SessionLog.START
        var event = Self.eventHeader(wallTime: wallTime, step: step)
        event.message(7, status)
        try append(event)
    }

    /// Adds scalars at `step`, as one event; non-finite values are written as they are
    /// (TensorBoard shows NaN and infinities).
    public func add(_ scalars: [(tag: String, value: Double)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        guard !scalars.isEmpty else { return }
        var summary = ProtobufMessage()
        for (tag, value) in scalars {
            var entry = ProtobufMessage()
            entry.string(1, tag)
            entry.float(2, Float(value))
            summary.message(1, entry)
        }
        var event = Self.eventHeader(wallTime: wallTime, step: step)
        event.message(5, summary)
        try append(event)
    }

    private static func eventHeader(wallTime: Double, step: Int) -> ProtobufMessage {
        var event = ProtobufMessage()
        event.double(1, wallTime)
        if step != 0 { event.varint(2, UInt64(max(step, 0))) }
        return event
    }

    /// One TFRecord: length, its masked CRC, the data, the data's masked CRC.
    static func record(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { out += $0 }
        withUnsafeBytes(of: CRC32C.masked(out).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { out += $0 }
        return out
    }

    private func append(_ event: ProtobufMessage) throws {
        let bytes = Self.record(event.bytes)
        let written = bytes.withUnsafeBytes { posixWrite(descriptor, $0.baseAddress!, $0.count) }
        guard written == bytes.count else {
            throw FileWriteError(path, written < 0 ? String(cString: strerror(errno)) : "short write (\(written) of \(bytes.count) bytes); free disk space")
        }
    }
}

/// The protobuf wire format, for the few fields an event needs: a tag is field number << 3 |
/// wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
struct ProtobufMessage {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) {
        appendVarint(UInt64(field << 3 | 0))
        appendVarint(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        appendVarint(UInt64(field << 3 | 1))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ value: Float) {
        appendVarint(UInt64(field << 3 | 5))
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func string(_ field: Int, _ value: String) { lengthDelimited(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ value: ProtobufMessage) { lengthDelimited(field, value.bytes) }

    private mutating func lengthDelimited(_ field: Int, _ value: [UInt8]) {
        appendVarint(UInt64(field << 3 | 2))
        appendVarint(UInt64(value.count))
        bytes += value
    }

    private mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}
