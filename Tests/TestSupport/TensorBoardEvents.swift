import Foundation

/// A reader of TensorBoard event files for tests, written from the TFRecord and protobuf
/// specifications (not from Concord's writer): each record's framing, and in each `Event` the
/// wall time, step, file version, session-log status and `simple_value` scalars.
public struct TensorBoardEvent: Equatable {
    public var wallTime = 0.0
    public var step = 0
    public var fileVersion: String?
    /// `SessionLog.status` (1 = START) when the event is a session log.
    public var sessionStatus: Int?
    public var scalars: [String: Float] = [:]

    /// The events of the file at `path`, with each record's data bytes and its two stored
    /// checksums (for a caller that can compute CRC-32C) — or a failure naming the offset.
    public static func read(_ path: String) throws -> [(event: TensorBoardEvent, data: [UInt8], lengthBytes: [UInt8], lengthCRC: UInt32, dataCRC: UInt32)] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var out: [(TensorBoardEvent, [UInt8], [UInt8], UInt32, UInt32)] = []
        var at = 0
        func le<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            (0..<MemoryLayout<T>.size).reduce(T(0)) { $0 | T(bytes[offset + $1]) << (8 * $1) }
        }
        while at < bytes.count {
            guard at + 12 <= bytes.count else { throw Failure("\(path): a record header is cut short at byte \(at)") }
            let length = Int(le(at, UInt64.self)), lengthCRC = le(at + 8, UInt32.self)
            guard at + 12 + length + 4 <= bytes.count else { throw Failure("\(path): a record is cut short at byte \(at)") }
            let data = Array(bytes[(at + 12)..<(at + 12 + length)])
            out.append((try event(data), data, Array(bytes[at..<(at + 8)]), lengthCRC, le(at + 12 + length, UInt32.self)))
            at += 12 + length + 4
        }
        return out
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// (field, wire type, varint or fixed value, length-delimited bytes) of a message.
    static func fields(_ m: [UInt8]) throws -> [(field: Int, wire: Int, number: UInt64, bytes: [UInt8])] {
        var at = 0, out: [(Int, Int, UInt64, [UInt8])] = []
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard at < m.count, shift < 64 else { throw Failure("bad varint") }
                let b = m[at]; at += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        func fixed(_ n: Int) throws -> UInt64 {
            guard at + n <= m.count else { throw Failure("cut fixed field") }
            defer { at += n }
            return (0..<n).reduce(UInt64(0)) { $0 | UInt64(m[at + $1]) << (8 * UInt64($1)) }
        }
        while at < m.count {
            let key = try varint(), field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: out.append((field, wire, try varint(), []))
            case 1: out.append((field, wire, try fixed(8), []))
            case 5: out.append((field, wire, try fixed(4), []))
            case 2:
                let n = Int(try varint())
                guard at + n <= m.count else { throw Failure("cut bytes field") }
                out.append((field, wire, 0, Array(m[at..<(at + n)]))); at += n
            default: throw Failure("wire type \(wire)")
            }
        }
        return out
    }

    static func event(_ data: [UInt8]) throws -> TensorBoardEvent {
        var e = TensorBoardEvent()
        for f in try fields(data) {
            switch f.field {
            case 1: e.wallTime = Double(bitPattern: f.number)
            case 2: e.step = Int(f.number)
            case 3: e.fileVersion = String(decoding: f.bytes, as: UTF8.self)
            case 5:
                for value in try fields(f.bytes) where value.field == 1 {
                    var tag = "", number: Float?
                    for g in try fields(value.bytes) {
                        if g.field == 1 { tag = String(decoding: g.bytes, as: UTF8.self) }
                        if g.field == 2 { number = Float(bitPattern: UInt32(g.number)) }
                    }
                    if let number { e.scalars[tag] = number }
                }
            case 7: e.sessionStatus = Int(try fields(f.bytes).first { $0.field == 1 }?.number ?? 0)
            default: break
            }
        }
        return e
    }

    /// The event files (`events.out.tfevents.*`) in `directory`, in name order.
    public static func files(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("events.out.tfevents.") }.sorted().map { directory + "/" + $0 }
    }
}
