#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine

#if !_endian(little)
#error("SafeTensors copies little-endian file data straight into memory; big-endian hosts are not supported")
#endif

/// A set of named tensors in the safetensors format, read from or written to disk.
///
/// The file is an 8-byte little-endian header length `N`, `N` bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}`,
/// then the data buffer (offsets are relative to its start). This is the format PyTorch users
/// move weights with, and the format of the golden test cases.
///
/// Readable dtypes: `F32`, `F64`, `F16`, `BF16` (as Float32 tensors via `tensor(_:)`),
/// `I64`, `I32`, `U8`, `BOOL` (via `int64s(_:)` or `rawBytes(_:)`). Written dtypes: `F32`
/// (`set(_:_:)`) and `I64` (`set(_:int64s:shape:)`); entries read from a file keep their dtype.
///
/// Every problem with a file — truncation, bad JSON, inconsistent entries — throws a
/// one-line `SafeTensorsError` that names the file and what is wrong.
///
/// ```swift
/// var st = SafeTensors()
/// st.set("fc.weight", weights)                       // a Tensor, stored as F32
/// st.set("labels", int64s: [3, 1, 4], shape: [3])
/// st.metadata["epoch"] = "12"
/// try st.write(to: "/tmp/model.safetensors")         // atomic
///
/// let back = try SafeTensors(contentsOf: "/tmp/model.safetensors")
/// let w = try back.tensor("fc.weight")               // Tensor, same shape
/// let y = try back.int64s("labels")                  // [3, 1, 4]
/// ```
public struct SafeTensors {
    /// Element types of the format that Concord understands.
    public enum DType: String, CaseIterable, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", u8 = "U8", bool = "BOOL"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .u8, .bool: return 1
            }
        }

        /// Whether `tensor(_:)` can convert it to Float32.
        public var isFloat: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }

        /// Whether `int64s(_:)` can convert it (`BOOL` reads as 0/1).
        public var isInteger: Bool { self == .i64 || self == .i32 || self == .u8 || self == .bool }

        /// One element as the reader hands it out.
        enum Scalar { case float(Float), int(Int64) }

        /// Element `i` of a little-endian buffer of this dtype at `src`: float dtypes as
        /// Float32, integer ones (and BOOL as 0/1) as Int64.
        @inline(__always)
        func element(_ src: UnsafeRawPointer, _ i: Int) -> Scalar {
            switch self {
            case .f32: return .float(src.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
            case .f64: return .float(Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)))
            case .f16: return .float(halfToFloat(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            case .bf16: return .float(Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16))
            case .i64: return .int(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
            case .i32: return .int(Int64(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
            case .u8: return .int(Int64(src.load(fromByteOffset: i, as: UInt8.self)))
            case .bool: return .int(src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0)
            }
        }
    }

    /// One tensor: its bytes are `buffer[range]`. Entries read from a file share the file's
    /// buffer (no copy); entries added with `set` own theirs.
    struct Entry {
        var dtype: DType
        var shape: [Int]
        var buffer: [UInt8]
        var range: Range<Int>

        /// Runs `body` on the address of the first element (not at all for an empty tensor).
        func withElements(_ body: (UnsafeRawPointer) -> Void) {
            buffer.withUnsafeBytes { raw in
                guard !range.isEmpty, let base = raw.baseAddress else { return }
                body(base + range.lowerBound)
            }
        }
    }

    /// Tensor names, in file order for a read file and in insertion order for `set`.
    public internal(set) var names: [String] = []
    /// The `__metadata__` string map (empty when the file has none).
    public var metadata: [String: String] = [:]
    /// The name used in error messages: the path or the `source` given to `init(bytes:source:)`.
    public var source: String

    var entries: [String: Entry] = [:]

    /// Headers larger than this are refused (the reference implementation uses the same bound).
    static let maxHeaderLength = 100_000_000

    /// An empty set, to be filled with `set` and written.
    public init(source: String = "(in-memory safetensors)") {
        self.source = source
    }

    /// Reads and validates a safetensors file (the file is read once, in one buffer).
    public init(contentsOf path: String) throws {
        try self.init(bytes: SafeTensors.readFile(path), source: path)
    }

    /// Parses and validates safetensors bytes; `source` names them in errors.
    public init(bytes: [UInt8], source: String) throws {
        self.source = source
        try parse(bytes)
    }

    // MARK: Queries

    /// Number of tensors.
    public var count: Int { names.count }

    /// Whether a tensor with this name exists.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The stored shape of `name` (`[]` for a scalar).
    public func shape(_ name: String) throws -> [Int] { try entry(name).shape }

    /// The stored dtype of `name`.
    public func dtype(_ name: String) throws -> DType { try entry(name).dtype }

    /// `name` as a Float32 tensor with the stored shape; F64, F16 and BF16 are converted.
    /// Throws if the tensor is missing or not a float type.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        guard e.dtype.isFloat else {
            throw fail("tensor \(quoted(name)) is \(e.dtype.rawValue), not a float type (read it with int64s or rawBytes)")
        }
        let t = Tensor(uninitializedShape: e.shape)
        let n = t.count, dst = t.data
        e.withElements { src in
            guard e.dtype != .f32 else { UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4); return }
            for i in 0..<n { if case let .float(v) = e.dtype.element(src, i) { dst[i] = v } }
        }
        return t
    }

    /// `name` as Int64 values in row-major order (I64, I32, U8, and BOOL as 0/1).
    /// Throws if the tensor is missing or not an integer type.
    public func int64s(_ name: String) throws -> [Int64] {
        let e = try entry(name)
        guard e.dtype.isInteger else {
            throw fail("tensor \(quoted(name)) is \(e.dtype.rawValue), not an integer type (read it with tensor)")
        }
        var out = [Int64](repeating: 0, count: e.range.count / e.dtype.size)
        e.withElements { src in
            for i in out.indices { if case let .int(v) = e.dtype.element(src, i) { out[i] = v } }
        }
        return out
    }

    /// The stored little-endian bytes of `name`, whatever its dtype.
    public func rawBytes(_ name: String) throws -> [UInt8] {
        let e = try entry(name)
        return Array(e.buffer[e.range])
    }

    // MARK: Mutation

    /// Stores a copy of `tensor` as F32 under `name`, replacing any entry of that name
    /// (a replaced entry keeps its position in `names`).
    public mutating func set(_ name: String, _ tensor: Tensor) {
        let bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(tensor.data), count: tensor.count * 4))
        put(name, Entry(dtype: .f32, shape: tensor.shape, buffer: bytes, range: 0..<bytes.count))
    }

    /// Stores `int64s` as I64 with the given shape (its product must equal `int64s.count`).
    public mutating func set(_ name: String, int64s: [Int64], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == int64s.count,
                     "set(\(name)): \(int64s.count) values for shape \(shape)")
        let bytes = int64s.withUnsafeBytes { Array($0) }
        put(name, Entry(dtype: .i64, shape: shape, buffer: bytes, range: 0..<bytes.count))
    }

    /// Removes `name` if present.
    public mutating func remove(_ name: String) {
        guard entries.removeValue(forKey: name) != nil else { return }
        names.removeAll { $0 == name }
    }

    private mutating func put(_ name: String, _ entry: Entry) {
        precondition(name != "__metadata__", "\"__metadata__\" is reserved in safetensors headers")
        if entries.updateValue(entry, forKey: name) == nil { names.append(name) }
    }

    // MARK: Writing

    /// The file bytes. The header lists `__metadata__` (if any) and then the tensors with keys
    /// sorted, and is padded with spaces to a multiple of 8 bytes; the data is laid out by
    /// decreasing element size, then name, so every tensor is aligned to its element size —
    /// the layout of the reference (Rust) implementation.
    public func serialized() -> [UInt8] {
        func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        let sortedNames = names.sorted(by: byteOrder)
        let dataOrder = names.sorted { a, b in
            let sa = entries[a]?.dtype.size ?? 0, sb = entries[b]?.dtype.size ?? 0
            return sa != sb ? sa > sb : byteOrder(a, b)
        }
        var offsets: [String: Range<Int>] = [:]
        var dataLength = 0
        for name in dataOrder {
            let n = entries[name]?.range.count ?? 0
            offsets[name] = dataLength..<(dataLength + n)
            dataLength += n
        }

        var header: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func separator() { if !first { header.append(UInt8(ascii: ",")) }; first = false }
        if !metadata.isEmpty {
            separator()
            header.append(contentsOf: Array("\"__metadata__\":{".utf8))
            for (i, key) in metadata.keys.sorted(by: byteOrder).enumerated() {
                if i > 0 { header.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &header)
                header.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key] ?? "", to: &header)
            }
            header.append(UInt8(ascii: "}"))
        }
        for name in sortedNames {
            guard let e = entries[name], let r = offsets[name] else { continue }
            separator()
            appendJSONString(name, to: &header)
            let shape = e.shape.map(String.init).joined(separator: ",")
            header.append(contentsOf: Array(
                ":{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(r.lowerBound),\(r.upperBound)]}".utf8))
        }
        header.append(UInt8(ascii: "}"))
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        let total = 8 + header.count + dataLength
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            guard let base = out.baseAddress else { initialized = 0; return }
            var length = UInt64(header.count).littleEndian
            withUnsafeBytes(of: &length) { UnsafeMutableRawPointer(base).copyMemory(from: $0.baseAddress!, byteCount: 8) }
            header.withUnsafeBytes { (base + 8).initialize(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: header.count) }
            let dataStart = 8 + header.count
            for name in dataOrder {
                guard let e = entries[name], let r = offsets[name], !r.isEmpty else { continue }
                e.buffer.withUnsafeBufferPointer { src in
                    (base + dataStart + r.lowerBound).initialize(from: src.baseAddress! + e.range.lowerBound, count: r.count)
                }
            }
            initialized = total
        }
    }

    /// Writes `serialized()` to `path` atomically: the bytes go to a temporary file in the
    /// same directory, which is fsynced and then renamed over `path`. If anything fails the
    /// temporary file is removed and `path` keeps its previous contents (or stays absent).
    public func write(to path: String) throws {
        try AtomicFile.write(serialized(), to: path)
    }

    // MARK: Internals

    private func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else {
            throw fail("no tensor named \(quoted(name)) (the file has \(names.count) tensors)")
        }
        return e
    }

    func fail(_ what: String) -> SafeTensorsError { SafeTensorsError("\(source): \(what)") }
}

/// `name` in quotes, with control characters escaped and long names shortened, so that an
/// error message stays on one line.
func quoted(_ name: String) -> String {
    var bytes: [UInt8] = []
    appendJSONString(name.count > 120 ? String(name.prefix(117)) + "..." : name, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

/// IEEE 754 binary16 bits to Float (exact: every half value is a float).
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24.
        let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // inf / NaN
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// A safetensors file that cannot be read or written, as one line naming the file.
public struct SafeTensorsError: UserInputError {
    public let description: String
    public init(_ description: String) { self.description = description }
}
