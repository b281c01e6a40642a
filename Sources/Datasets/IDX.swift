import CZlib
import Foundation

/// An IDX file (the MNIST / Fashion-MNIST container) of unsigned bytes, read whole into memory.
///
/// Two layouts are accepted, the ones Fashion-MNIST ships:
/// - magic `0x00000801`: labels, 1-d `[N]`
/// - magic `0x00000803`: images, 3-d `[N, rows, cols]`
///
/// The header is the 4-byte magic followed by one big-endian `UInt32` per dimension; the data
/// follows in row-major order. Files are read through zlib's `gzread`, which inflates
/// gzip-compressed files and passes plain ones through unchanged, so `x-idx3-ubyte.gz` and an
/// unpacked `x-idx3-ubyte` both work.
///
/// Every problem (missing, unreadable, wrong magic, cut short, zero dimension, trailing bytes,
/// corrupt gzip stream) throws a `DatasetError` whose one-line message names the file.
public struct IDXFile: Sendable {
    /// Magic number of a 1-d uint8 file (labels).
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// Magic number of a 3-d uint8 file (images).
    public static let imagesMagic: UInt32 = 0x0000_0803

    /// The path the file was read from (as given).
    public let path: String
    /// The magic number from the header (`labelsMagic` or `imagesMagic`).
    public let magic: UInt32
    /// Dimensions from the header, outermost first; all non-zero.
    public let dimensions: [Int]
    /// The data, row-major; `bytes.count == dimensions.reduce(1, *)`.
    public let bytes: [UInt8]

    /// Number of items (the outermost dimension).
    public var itemCount: Int { dimensions[0] }

    /// Reads and validates the IDX file at `path` (gzip-compressed or not).
    /// - Throws: `DatasetError` naming `path` and what is wrong with it.
    public init(path: String) throws {
        self.path = path
        try Self.checkAccessible(path)

        guard let file = gzopen(path, "rb") else {
            throw DatasetError("\(path): cannot open (\(String(cString: strerror(errno)))); "
                            + "check the file's permissions")
        }
        defer { gzclose(file) }
        // The default 8 KiB window makes the 26 MB train-images file take many small reads.
        gzbuffer(file, 1 << 17)
        var reader = GzipReader(file: file, path: path)

        // Header: magic, then one big-endian UInt32 per dimension.
        let magicBytes = try reader.read(upTo: 4)
        guard magicBytes.count == 4 else {
            throw DatasetError("\(path): file is too short to be an IDX file (\(magicBytes.count) bytes); "
                            + "expected a Fashion-MNIST …-idx3-ubyte.gz or …-idx1-ubyte.gz — "
                            + "reinstall it (launch/setup)")
        }
        let magic = Self.bigEndianUInt32(magicBytes, at: 0)
        guard magic == Self.labelsMagic || magic == Self.imagesMagic else {
            throw DatasetError("\(path): not an IDX file (magic \(Self.hex(magic))); expected a Fashion-MNIST "
                            + "…-idx3-ubyte.gz (magic 0x00000803) or …-idx1-ubyte.gz (magic 0x00000801)")
        }
        self.magic = magic

        let rank = Int(magic & 0xFF)
        let dimBytes = try reader.read(upTo: 4 * rank)
        guard dimBytes.count == 4 * rank else {
            throw DatasetError("\(path): truncated IDX header: expected \(4 * rank) bytes of dimensions, "
                            + "found \(dimBytes.count); the file is cut short — reinstall it (launch/setup)")
        }
        let dims = (0..<rank).map { Int(Self.bigEndianUInt32(dimBytes, at: 4 * $0)) }
        if let zero = dims.firstIndex(of: 0) {
            throw DatasetError("\(path): dimension \(zero) is 0 in \(Self.shapeText(dims)); "
                            + "an IDX dataset needs non-zero dimensions — the file is corrupt, reinstall it")
        }
        self.dimensions = dims

        // Each dimension is < 2^32, so three of them can overflow Int only in theory; check anyway.
        var expected = 1
        for d in dims {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw DatasetError("\(path): dimensions \(Self.shapeText(dims)) are too large; the header is corrupt")
            }
            expected = product
        }

        let data = try reader.read(upTo: expected)
        guard data.count == expected else {
            throw DatasetError("\(path): truncated: expected \(expected) bytes of data for \(Self.shapeText(dims)), "
                            + "found \(data.count); the file is incomplete — reinstall it (launch/setup) "
                            + "or download it again")
        }
        let extra = try reader.read(upTo: 1)
        guard extra.isEmpty else {
            throw DatasetError("\(path): unexpected bytes after the \(expected) bytes of data declared by "
                            + "\(Self.shapeText(dims)); the header or the file is corrupt — reinstall it")
        }
        self.bytes = data
    }

    // MARK: - Helpers

    /// Separates "missing" from "unreadable" from "a directory", which `gzopen` reports alike.
    private static func checkAccessible(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError("\(path): file not found; check the path, or run launch/setup to install "
                            + "the Fashion-MNIST files")
        }
        guard !isDirectory.boolValue else {
            throw DatasetError("\(path): is a directory, not an IDX file; point at the …-ubyte.gz file itself")
        }
        guard access(path, R_OK) == 0 else {
            throw DatasetError("\(path): not readable (\(String(cString: strerror(errno)))); "
                            + "check the file's permissions")
        }
    }

    static func bigEndianUInt32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: false)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func shapeText(_ dims: [Int]) -> String {
        "[" + dims.map(String.init).joined(separator: ", ") + "]"
    }
}

/// Reads from an open gzFile, turning zlib errors into `DatasetError`s that name the file.
private struct GzipReader {
    let file: gzFile
    let path: String

    /// Reads up to `count` bytes; fewer only at end of input (or a gzip stream cut short).
    ///
    /// The buffer grows with the data actually read, so a corrupt header that declares
    /// gigabytes does not allocate them before the truncation is noticed.
    mutating func read(upTo count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(count, 1 << 24))
        let chunk = 1 << 20
        var scratch = [UInt8](repeating: 0, count: min(count, chunk))
        while out.count < count {
            let want = min(chunk, count - out.count)
            let got = scratch.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(want)) }
            if got < 0 { throw corrupt() }
            if got == 0 { break }
            out.append(contentsOf: scratch[0..<Int(got)])
        }
        if out.count < count {
            // A truncated gzip stream is reported as Z_BUF_ERROR after a short read; it is the
            // caller's "truncated" message that matters, but a real inflate error is worse news.
            var code: Int32 = 0
            _ = gzerror(file, &code)
            if code != Z_OK && code != Z_BUF_ERROR { throw corrupt() }
        }
        return out
    }

    private func corrupt() -> DatasetError {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown zlib error"
        return DatasetError("\(path): corrupt or unreadable data (zlib: \(message)); "
                         + "reinstall the file (launch/setup) or download it again")
    }
}
