#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Header validation and file I/O for `SafeTensors`.

extension SafeTensors {
    /// Validates `bytes` and fills `names`, `entries` and `metadata`. Every check throws a
    /// one-line `SafeTensorsError` naming `source`.
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
        guard fd >= 0 else { throw SafeTensorsError("\(path): cannot open: \(errnoMessage())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafeTensorsError("\(path): cannot stat: \(errnoMessage())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError("\(path): not a regular file") }
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
        guard readError == 0 else { throw SafeTensorsError("\(path): read failed: \(String(cString: strerror(readError)))") }
        return bytes
    }
}

func errnoMessage() -> String { String(cString: strerror(errno)) }
