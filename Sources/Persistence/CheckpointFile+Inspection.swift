import Foundation

/// What `concord checkpoint inspect` and `diff` print.
extension CheckpointFile {
    /// A summary line, the metadata and one line per entry (`stored`: the file's size).
    public func inspection(storedBytes stored: Int) -> [String] {
        let raw = entries.reduce(0) { $0 + $1.bytes.count }
        var lines = ["\(source): \(entries.count) entries, \(raw) bytes of state in a \(stored)-byte file"
                     + String(format: " (%.3f×)", Double(raw) / Double(max(stored, 1)))]
        for key in metadata.keys.sorted() { lines.append("  \(key): \(metadata[key] ?? "")") }
        for e in entries {
            lines.append("  \(e.name)  \(e.dtype.rawValue) \(e.shape.map(String.init).joined(separator: "×"))  \(e.bytes.count) bytes")
        }
        return lines
    }

    /// Entry-by-entry comparison of two checkpoints.
    public struct Difference {
        /// One line per entry: its largest absolute difference, or why it cannot be compared.
        public var lines: [String] = []
        /// Entries that count as different (in one file only, another type or shape, or
        /// values apart by more than the tolerance).
        public var differing = 0
        /// The verdict line: "identical" or "N entries differ".
        public var verdict: String = ""
    }

    /// Compares every entry of `self` with `other`. Without a tolerance, float32 entries are
    /// equal only as the same bits (−0 is not +0, NaN only matches the same NaN); byte entries
    /// (the config, the state's JSON) are reported when they differ but not counted, so two
    /// runs in different directories still compare equal.
    public func difference(from other: CheckpointFile, atol: Double = 0) throws -> Difference {
        var d = Difference()
        for name in names where !other.names.contains(name) { d.lines.append("\(name): only in \(source)"); d.differing += 1 }
        for name in other.names where !names.contains(name) { d.lines.append("\(name): only in \(other.source)"); d.differing += 1 }
        for name in names where other.names.contains(name) {
            let ex = try entry(name), ey = try other.entry(name)
            if ex.dtype == .u8 && ey.dtype == .u8 {
                if ex.bytes != ey.bytes { d.lines.append("\(name): differs (bytes, not counted)") }
                continue
            }
            guard ex.dtype == ey.dtype, ex.shape == ey.shape else {
                d.lines.append("\(name): \(ex.dtype.rawValue) \(ex.shape) vs \(ey.dtype.rawValue) \(ey.shape)")
                d.differing += 1
                continue
            }
            switch ex.dtype {
            case .f32:
                let u = try floats(name), v = try other.floats(name)
                let nanMismatch = zip(u, v).contains { $0.isNaN != $1.isNaN }
                let largest = zip(u, v).reduce(0.0) { $1.0.isNaN || $1.1.isNaN ? $0 : max($0, abs(Double($1.0) - Double($1.1))) }
                let differs = nanMismatch || (atol == 0 ? ex.bytes != ey.bytes : largest > atol)
                if differs { d.differing += 1 }
                d.lines.append("\(name): max |Δ| " + String(format: "%.3g", largest)
                               + (nanMismatch ? " (NaN differs)" : differs && largest == 0 ? " (bits differ)" : ""))
            case .i64:
                let u = try int64s(name), v = try other.int64s(name)
                let largest = zip(u, v).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
                if largest > atol { d.differing += 1 }
                d.lines.append("\(name): max |Δ| " + String(format: "%.3g", largest))
            case .u8:
                break   // compared above
            }
        }
        d.verdict = d.differing == 0 ? "identical\(atol > 0 ? " within \(atol)" : "")" : "\(d.differing) entries differ"
        return d
    }
}
