import Engine
import Foundation

/// One array of a `.npy` file (or of a `.npz` member): its dtype, shape and little-endian
/// C-order element bytes.
///
/// ```text
/// "\x93NUMPY" major minor | header length (UInt16 LE in 1.0, UInt32 LE in 2.0 / 3.0)
/// header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
/// data:   shape.product × itemsize bytes, from a 64-byte aligned offset
/// ```
///
/// Object arrays (pickles), structured and big-endian dtypes and Fortran order are refused with
/// a line saying how to save the array instead.
public struct NumPyArray: Sendable {
    /// Element types Concord reads.
    public enum DType: String, Sendable {
        case uint8 = "|u1", int8 = "|i1", bool = "|b1", int16 = "<i2", uint16 = "<u2", int32 = "<i4", uint32 = "<u4"
        case int64 = "<i8", uint64 = "<u8", float32 = "<f4", float64 = "<f8"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8, .int8, .bool: return 1
            case .int16, .uint16: return 2
            case .int32, .uint32, .float32: return 4
            case .int64, .uint64, .float64: return 8
            }
        }

        /// Whether the elements are integers (labels).
        public var isInteger: Bool { self != .float32 && self != .float64 }
    }

    /// Where the array came from, for messages (`x.npz:images.npy`).
    public let source: String
    public let dtype: DType
    public let shape: [Int]
    /// The element bytes, C order; a slice of the file's (mapped) data, not a copy.
    /// bytes: [shape.product × dtype.size]
    public let bytes: Data

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Parses a whole `.npy` image held in `data` (the file, or a `.npz` member).
    /// - Throws: `DatasetError` naming `source` and what is wrong.
    public init(npy data: Data, source: String) throws {
        self.source = source
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard data.count >= 10, Array(data.prefix(6)) == magic else {
            throw DatasetError("\(source): not a NumPy .npy array (no \\x93NUMPY header); save it with numpy.save")
        }
        let base = data.startIndex
        let major = data[base + 6]
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), data.count >= 8 + lengthBytes else {
            throw DatasetError("\(source): .npy format version \(major).\(data[base + 7]) is not one this build reads (1.0–3.0); save it with a current numpy")
        }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(data[base + 8 + $1]) << (8 * $1) }
        let dataStart = 8 + lengthBytes + headerLength
        guard data.count >= dataStart, let header = String(data: data.subdata(in: (base + 8 + lengthBytes)..<(base + dataStart)), encoding: .utf8) else {
            throw DatasetError("\(source): the .npy header is cut short or not text; the file is truncated — save it again")
        }
        let fields = try Self.parseHeader(header, source: source)
        guard let dtype = DType(rawValue: fields.descr) else {
            let hint = fields.descr.hasPrefix(">") ? "convert it to little-endian (array.astype(array.dtype.newbyteorder('<')))"
                : fields.descr.contains("O") ? "object arrays hold Python objects; save a numeric array"
                : "use uint8 or float32 images and integer labels"
            throw DatasetError("\(source): dtype '\(fields.descr)' is not supported; \(hint)")
        }
        guard !fields.fortranOrder else {
            throw DatasetError("\(source): the array is in Fortran order; save numpy.ascontiguousarray(array) instead")
        }
        var expected = dtype.size
        for d in fields.shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DatasetError("\(source): shape \(fields.shape) is too large; the header is corrupt") }
            expected = product
        }
        guard data.count - dataStart == expected else {
            throw DatasetError("\(source): \(data.count - dataStart) bytes of data for shape \(fields.shape) of \(dtype) (\(expected) expected); the file is \(data.count - dataStart < expected ? "truncated" : "longer than its header says") — save it again")
        }
        self.dtype = dtype
        self.shape = fields.shape
        self.bytes = data[(base + dataStart)..<(base + data.count)]
    }

    /// Reads a `.npy` file, memory-mapped (pages are read when touched and shared between the
    /// processes of a node).
    public init(contentsOf path: String) throws {
        let data: Data
        do { data = try FileBytes.read(path, mapped: true) } catch {
            throw DatasetError("\(path): cannot be read (\(error.localizedDescription)); check the path and permissions")
        }
        try self.init(npy: data, source: path)
    }

    /// The element at flat index `i` as a Double (labels, small arrays).
    public func value(at i: Int) -> Double {
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Double in
            let at = i * dtype.size
            switch dtype {
            case .uint8, .bool: return Double(raw[at])
            case .int8: return Double(Int8(bitPattern: raw[at]))
            case .int16: return Double(raw.loadUnaligned(fromByteOffset: at, as: Int16.self))
            case .uint16: return Double(raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))
            case .int32: return Double(raw.loadUnaligned(fromByteOffset: at, as: Int32.self))
            case .uint32: return Double(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            case .int64: return Double(raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
            case .uint64: return Double(raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            case .float32: return Double(raw.loadUnaligned(fromByteOffset: at, as: Float.self))
            case .float64: return raw.loadUnaligned(fromByteOffset: at, as: Double.self)
            }
        }
    }

    /// The three keys of a header dict: `descr`, `fortran_order`, `shape`.
    static func parseHeader(_ header: String, source: String) throws -> (descr: String, fortranOrder: Bool, shape: [Int]) {
        func bad(_ what: String) -> DatasetError {
            DatasetError("\(source): the .npy header \(what) (\(header.trimmingCharacters(in: .whitespacesAndNewlines).prefix(120))); save the array again with numpy.save")
        }
        func value(of key: String) throws -> Substring {
            guard let k = header.range(of: "'\(key)'"), let colon = header[k.upperBound...].firstIndex(of: ":") else {
                throw bad("has no '\(key)'")
            }
            return header[header.index(after: colon)...].drop { $0 == " " }
        }
        let descrText = try value(of: "descr")
        guard let quote = descrText.first, quote == "'" || quote == "\"", let end = descrText.dropFirst().firstIndex(of: quote) else {
            throw bad("has a 'descr' that is not a dtype string (a structured array?)")
        }
        let descr = String(descrText[descrText.index(after: descrText.startIndex)..<end])
        let fortranText = try value(of: "fortran_order")
        guard fortranText.hasPrefix("True") || fortranText.hasPrefix("False") else { throw bad("has no True/False 'fortran_order'") }
        let shapeText = try value(of: "shape")
        guard shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else { throw bad("has no shape tuple") }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if text.isEmpty { continue }
            guard let d = Int(text), d >= 0 else { throw bad("has a shape entry '\(text)' that is not a size") }
            shape.append(d)
        }
        return (descr, fortranText.hasPrefix("True"), shape)
    }
}
