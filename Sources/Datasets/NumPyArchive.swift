import CZlib
import Engine
import Foundation

/// A `.npz` file: a ZIP archive of `.npy` members, as `numpy.savez` (stored) and
/// `numpy.savez_compressed` (deflated) write it, Zip64 records included.
///
/// The file is memory-mapped: a stored member's array is a slice of the mapping (no copy), a
/// deflated one is inflated into memory once. Each member's CRC-32 is checked.
public struct NumPyArchive {
    /// The archive's path.
    public let path: String
    private let data: Data
    private var members: [String: (method: Int, crc: UInt32, compressed: Int, size: Int, localOffset: Int)] = [:]

    /// The member names without `.npy` (`x_train`, `arr_0`, …), in name order.
    public var names: [String] { members.keys.map { $0.hasSuffix(".npy") ? String($0.dropLast(4)) : $0 }.sorted() }

    /// Opens and indexes the archive at `path`.
    /// - Throws: `DatasetError` naming the file and what is wrong.
    public init(contentsOf path: String) throws {
        self.path = path
        do { data = try FileBytes.read(path, mapped: true) } catch {
            throw DatasetError("\(path): cannot be read (\(error.localizedDescription)); check the path and permissions")
        }
        try index()
    }

    /// The array stored as `name` (with or without `.npy`).
    public func array(_ name: String) throws -> NumPyArray {
        let key = name.hasSuffix(".npy") ? name : name + ".npy"
        guard let m = members[key] else {
            throw DatasetError("\(path): has no array '\(name)'; it holds \(names.joined(separator: ", "))")
        }
        let source = "\(path):\(key)"
        let nameLength = Int(u16(m.localOffset + 26)), extraLength = Int(u16(m.localOffset + 28))
        let start = m.localOffset + 30 + nameLength + extraLength
        guard u32(m.localOffset) == 0x0403_4B50, start <= data.count, m.compressed <= data.count - start else {
            throw DatasetError("\(source): the member's local header or data lies outside the file; the archive is damaged — save it again")
        }
        let stored = data[(data.startIndex + start)..<(data.startIndex + start + m.compressed)]
        let bytes: Data
        switch m.method {
        case 0:
            guard m.compressed == m.size else { throw DatasetError("\(source): stored member with differing sizes; the archive is damaged") }
            bytes = stored
        case 8: bytes = try Self.inflate(stored, size: m.size, source: source)
        default:
            throw DatasetError("\(source): compression method \(m.method) is not supported; save with numpy.savez or numpy.savez_compressed")
        }
        let crc = bytes.withUnsafeBytes { raw in UInt32(crc32_z(0, raw.bindMemory(to: UInt8.self).baseAddress, z_size_t(raw.count))) }
        guard crc == m.crc else {
            throw DatasetError("\(source): CRC-32 mismatch (the data is corrupt); save the archive again")
        }
        return try NumPyArray(npy: bytes, source: source)
    }

    // MARK: ZIP records (PKWARE APPNOTE; little-endian)

    private func u16(_ at: Int) -> UInt16 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
    private func u32(_ at: Int) -> UInt32 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
    private func u64(_ at: Int) -> UInt64 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) } }

    private mutating func index() throws {
        func damaged(_ what: String) -> DatasetError {
            DatasetError("\(path): \(what); it is not a complete .npz (ZIP) archive — save it again with numpy.savez")
        }
        // End of central directory: 22 bytes plus a comment of up to 65 535, at the end.
        guard data.count >= 22 else { throw damaged("too short for a ZIP archive (\(data.count) bytes)") }
        var end = -1
        for at in stride(from: data.count - 22, through: max(0, data.count - 22 - 65_535), by: -1) where u32(at) == 0x0605_4B50 {
            end = at
            break
        }
        guard end >= 0 else { throw damaged("no ZIP end-of-directory record") }
        var entries = Int(u16(end + 10)), directory = Int(u32(end + 16))
        if (entries == 0xFFFF || directory == 0xFFFF_FFFF), end >= 20, u32(end - 20) == 0x0706_4B50 {
            let zip64 = Int(truncatingIfNeeded: u64(end - 20 + 8))
            guard zip64 >= 0, zip64 <= data.count - 56, u32(zip64) == 0x0606_4B50 else { throw damaged("a broken Zip64 end record") }
            entries = Int(truncatingIfNeeded: u64(zip64 + 32))
            directory = Int(truncatingIfNeeded: u64(zip64 + 48))
            guard entries >= 0, entries <= data.count / 46 else { throw damaged("a Zip64 entry count larger than the file") }
        }
        guard entries <= data.count / 46 else { throw damaged("an entry count larger than the file") }
        var at = directory
        for _ in 0..<entries {
            guard at >= 0, at <= data.count - 46, u32(at) == 0x0201_4B50 else { throw damaged("a central-directory entry lies outside the file") }
            let flags = u16(at + 8), method = Int(u16(at + 10)), crc = u32(at + 16)
            var compressed = Int(u32(at + 20)), size = Int(u32(at + 24))
            let nameLength = Int(u16(at + 28)), extraLength = Int(u16(at + 30)), commentLength = Int(u16(at + 32))
            var localOffset = Int(u32(at + 42))
            guard at + 46 + nameLength + extraLength <= data.count else { throw damaged("a member name lies outside the file") }
            let name = String(decoding: data[(data.startIndex + at + 46)..<(data.startIndex + at + 46 + nameLength)], as: UTF8.self)
            guard flags & 1 == 0 else { throw DatasetError("\(path):\(name): encrypted members are not supported; save the archive without a password") }
            // Zip64 extra field (id 1): the saturated sizes and offset, in this order.
            var extra = at + 46 + nameLength
            while extra + 4 <= at + 46 + nameLength + extraLength {
                let id = u16(extra), length = Int(u16(extra + 2)), fieldEnd = extra + 4 + length
                guard fieldEnd <= data.count else { throw damaged("member '\(name)' has an extra field outside the file") }
                if id == 1 {
                    var field = extra + 4
                    func next() throws -> Int {
                        guard field + 8 <= fieldEnd else { throw damaged("member '\(name)' has a short Zip64 field") }
                        defer { field += 8 }
                        return Int(truncatingIfNeeded: u64(field))
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra = fieldEnd
            }
            guard localOffset >= 0, localOffset <= data.count - 30, compressed >= 0, compressed <= data.count, size >= 0 else {
                throw damaged("member '\(name)' points outside the file")
            }
            // Deflate expands at most 1032-fold: a larger declared size is a damaged record, not
            // an allocation to attempt.
            guard size <= max(compressed, 1) * 1032 else { throw damaged("member '\(name)' declares \(size) bytes from \(compressed)") }
            members[name] = (method, crc, compressed, size, localOffset)
            at += 46 + nameLength + extraLength + commentLength
        }
    }

    /// Raw deflate (no zlib header) of `stored` into `size` bytes, fed to zlib in pieces its
    /// 32-bit counters hold.
    static func inflate(_ stored: Data, size: Int, source: String) throws -> Data {
        guard size > 0 else { return Data() }
        var out = Data(count: size)
        var stream = z_stream()
        guard concord_inflate_init2(&stream, -15) == Z_OK else { throw DatasetError("\(source): zlib cannot start inflating") }
        defer { inflateEnd(&stream) }
        let piece = Int(UInt32.max / 2)
        var status = Z_OK
        stored.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                guard let input = src.baseAddress, let output = dst.baseAddress else { status = Z_DATA_ERROR; return }
                var read = 0, written = 0
                while status == Z_OK {
                    let inChunk = min(piece, src.count - read), outChunk = min(piece, dst.count - written)
                    stream.next_in = UnsafeMutablePointer(mutating: (input + read).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(inChunk)
                    stream.next_out = (output + written).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(outChunk)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    read += inChunk - Int(stream.avail_in)
                    written += outChunk - Int(stream.avail_out)
                    if status == Z_OK && inChunk == 0 && outChunk == 0 { status = Z_BUF_ERROR }
                    if status == Z_BUF_ERROR && (read == src.count || written == dst.count) { break }
                }
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw DatasetError("\(source): the compressed data is corrupt (zlib status \(status), \(stream.total_out) of \(size) bytes); save the archive again")
        }
        return out
    }
}
