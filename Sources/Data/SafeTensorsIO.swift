#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Header validation and file I/O for `SafeTensors`.

extension SafeTensors {
    /// Validates `bytes` and fills `names`, `entries` and `metadata`. Every check throws a
    /// one-line `DataError` naming `source`.
    mutating func parse(_ bytes: [UInt8]) throws {
        guard bytes.count >= 8 else {
            throw fail("file too short for the 8-byte header length (\(bytes.count) bytes)")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        let available = bytes.count - 8
        guard headerLength <= UInt64(available) else {
            throw fail("header length \(headerLength) is beyond the file (\(available) bytes follow the length)")
        }
        guard headerLength <= UInt64(SafeTensors.maxHeaderLength) else {
            throw fail("header length \(headerLength) exceeds the \(SafeTensors.maxHeaderLength)-byte limit")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = bytes.count - dataStart

        let root: JSONValue
        do {
            root = try bytes.withUnsafeBufferPointer { all in
                try JSONParser.parse(UnsafeBufferPointer(rebasing: all[8..<dataStart]))
            }
        } catch let failure as JSONParser.Failure {
            throw fail("invalid JSON header at byte \(8 + failure.offset): \(failure.message)")
        }
        guard case .object(let members) = root else {
            throw fail("header is \(root.kind), not a JSON object")
        }

        var seen = Set<String>()
        var spans: [(range: Range<Int>, name: String)] = []
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw fail("duplicate header key \(quoted(name))") }
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
                continue
            }
            let entry = try parseEntry(name, value, dataStart: dataStart, dataLength: dataLength, buffer: bytes)
            names.append(name)
            entries[name] = entry
            spans.append((entry.range, name))
        }

        // Entries must not share bytes (empty tensors occupy none).
        let sorted = spans.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw fail("tensors \(quoted(a.name)) and \(quoted(b.name)) overlap in the data buffer "
                       + "(bytes \(a.range.lowerBound - dataStart)..<\(a.range.upperBound - dataStart) "
                       + "and \(b.range.lowerBound - dataStart)..<\(b.range.upperBound - dataStart))")
        }
    }

    private func parseMetadata(_ value: JSONValue) throws -> [String: String] {
        guard case .object(let pairs) = value else {
            throw fail("\"__metadata__\" is \(value.kind), not an object of strings")
        }
        var result: [String: String] = [:]
        for (key, v) in pairs {
            guard case .string(let s) = v else {
                throw fail("metadata \(quoted(key)) is \(v.kind), not a string")
            }
            guard result.updateValue(s, forKey: key) == nil else {
                throw fail("duplicate metadata key \(quoted(key))")
            }
        }
        return result
    }

    private func parseEntry(_ name: String, _ value: JSONValue, dataStart: Int, dataLength: Int,
                            buffer: [UInt8]) throws -> Entry {
        let what = "tensor \(quoted(name))"
        guard case .object(let fields) = value else { throw fail("\(what) is \(value.kind), not an object") }
        func field(_ key: String) throws -> JSONValue {
            guard let v = fields.first(where: { $0.key == key })?.value else {
                throw fail("\(what) is missing \"\(key)\"")
            }
            return v
        }

        guard case .string(let dtypeName) = try field("dtype") else { throw fail("\(what): \"dtype\" is not a string") }
        guard let dtype = DType(rawValue: dtypeName) else {
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("\(what) has unknown dtype \(quoted(dtypeName)) (supported: \(known))")
        }

        guard case .array(let dims) = try field("shape") else { throw fail("\(what): \"shape\" is not an array") }
        var shape: [Int] = []
        var elements = 1
        for d in dims {
            guard let n = d.nonNegativeInt else {
                throw fail("\(what): shape entries must be non-negative integers")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("\(what): shape \(dims.count)-d product overflows") }
            shape.append(n)
            elements = product
        }

        guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2,
              let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
            throw fail("\(what): \"data_offsets\" must be [begin, end] with non-negative integers")
        }
        guard begin <= end else { throw fail("\(what): data_offsets begin \(begin) > end \(end)") }
        guard end <= dataLength else {
            throw fail("\(what): data_offsets [\(begin), \(end)] out of bounds (data buffer is \(dataLength) bytes)")
        }
        let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, expected == end - begin else {
            throw fail("\(what): \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs "
                       + (overflow ? "more than Int.max" : "\(expected)"))
        }
        return Entry(dtype: dtype, shape: shape, buffer: buffer, range: (dataStart + begin)..<(dataStart + end))
    }

    // MARK: Files

    /// The whole file, read with one allocation.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DataError("\(path): cannot open: \(errnoMessage())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DataError("\(path): cannot stat: \(errnoMessage())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw DataError("\(path): not a regular file") }
        let size = Int(info.st_size)
        var readError: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size, let base = buffer.baseAddress {
                let r = read(fd, base + done, size - done)
                if r < 0 {
                    if errno == EINTR { continue }
                    readError = errno
                    break
                }
                if r == 0 { break }  // file shrank while reading; the parser reports what is missing
                done += r
            }
            initialized = done
        }
        guard readError == 0 else { throw DataError("\(path): read failed: \(String(cString: strerror(readError)))") }
        return bytes
    }

    /// Writes `bytes` to a temporary file next to `path`, fsyncs it and renames it over `path`;
    /// the directory is fsynced afterwards so the rename survives a crash. On failure the
    /// temporary file is removed and `path` is untouched. `failAfterBytes` injects a write
    /// failure after that many bytes (tests only).
    static func writeAtomically(_ bytes: [UInt8], to path: String, failAfterBytes: Int? = nil) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temp = (directory == "/" ? "" : directory) + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        func failure(_ what: String) -> DataError { DataError("\(path): cannot write: \(what)") }

        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create a temporary file in \(directory): \(errnoMessage())") }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(temp) }
        }
        // Keep the permissions of the file being replaced.
        var old = stat()
        if stat(path, &old) == 0 { _ = fchmod(fd, old.st_mode & 0o7777) }

        let limit = min(bytes.count, failAfterBytes ?? bytes.count)
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < limit, let start = raw.baseAddress {
                let w = Glibc_write(fd, start + done, limit - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw failure(errnoMessage())
                }
                done += w
            }
        }
        if failAfterBytes != nil { throw failure("injected failure after \(limit) bytes") }
        guard fsync(fd) == 0 else { throw failure("fsync: \(errnoMessage())") }
        closed = true
        guard close(fd) == 0 else { throw failure("close: \(errnoMessage())") }
        guard rename(temp, path) == 0 else { throw failure("rename over the target: \(errnoMessage())") }
        renamed = true
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

/// The POSIX `write`, out of reach of the `write(to:)` method's name inside the extension.
@inline(__always)
private func Glibc_write(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, buf, n)
}

func errnoMessage() -> String { String(cString: strerror(errno)) }
