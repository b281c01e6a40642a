import Engine
import Foundation

/// An mpirun hostfile as `launch/cluster` accepts it: one node per line,
/// `host [slots=N] [max_slots=N]`, `#` starting a comment, blank lines ignored.
///
/// Stricter than Open MPI on purpose: a host listed twice (its slots would silently add up, or
/// a typo would start two ranks' worth of processes on one node) and a line mpirun would
/// misread are refused with the file, the line and what to write instead.
public struct Hostfile: Sendable, Equatable {
    /// One node of the file.
    public struct Node: Sendable, Equatable {
        /// The name or address mpirun reaches the node by.
        public let host: String
        /// Processes to start there (`slots=`, default 1).
        public let slots: Int
        /// `max_slots=` when given (kept so a rewritten file says the same).
        public let maxSlots: Int?
        /// Line of the file it came from (1-based).
        public let line: Int
    }

    /// Larger files are not hostfiles; the limit keeps a wrong path from being read whole.
    public static let maximumBytes = 1 << 20
    /// Slots per node and in all; far above any machine, low enough that sums cannot overflow.
    public static let maximumSlots = 1 << 20

    /// Where the text came from, for messages.
    public let source: String
    /// The nodes in file order.
    public let nodes: [Node]

    /// Processes in all: the world size `launch/cluster` starts.
    public var slotCount: Int { nodes.reduce(0) { $0 + $1.slots } }

    /// Parses `text`; `source` names it in errors.
    /// - Throws: `ConfigError` naming `source:line` and what to write instead.
    public init(text: String, source: String) throws {
        self.source = source
        var nodes: [Node] = []
        var firstLine: [String: Int] = [:]
        var total = 0
        // Lines end at any newline: "\r\n" is one Character, so a split on "\n" would keep a
        // file written on Windows as one line.
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = index + 1
            let content = raw.prefix { $0 != "#" }
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { continue }
            let host = String(first)
            guard Self.isHostName(host) else {
                throw ConfigError("\(source):\(line): '\(Self.shown(raw))' does not start with a host name (letters, digits, '.', '-', '_', ':'); write 'host slots=N'")
            }
            if let previous = firstLine[host] {
                throw ConfigError("\(source):\(line): host '\(host)' is listed again (first on line \(previous)); give each node one line with all its slots")
            }
            var slots: Int?
            var maxSlots: Int?
            for word in words.dropFirst() {
                let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = parts[0]
                guard parts.count == 2, key == "slots" || key == "max_slots" || key == "max-slots" else {
                    throw ConfigError("\(source):\(line): '\(Self.shown(word))' is not slots=N or max_slots=N; write 'host slots=N'")
                }
                guard let value = Int(parts[1]), value >= 1, value <= Self.maximumSlots else {
                    throw ConfigError("\(source):\(line): \(key)='\(Self.shown(parts[1]))' is not a whole number from 1 to \(Self.maximumSlots)")
                }
                if key == "slots" {
                    guard slots == nil else { throw ConfigError("\(source):\(line): slots= is given twice; keep one") }
                    slots = value
                } else {
                    guard maxSlots == nil else { throw ConfigError("\(source):\(line): max_slots= is given twice; keep one") }
                    maxSlots = value
                }
            }
            let n = slots ?? 1
            if let maxSlots, maxSlots < n {
                throw ConfigError("\(source):\(line): slots=\(n) is more than max_slots=\(maxSlots); lower slots or raise max_slots")
            }
            total += n
            guard total <= Self.maximumSlots else {
                throw ConfigError("\(source):\(line): more than \(Self.maximumSlots) slots in all; this is not a hostfile of real nodes")
            }
            firstLine[host] = line
            nodes.append(Node(host: host, slots: n, maxSlots: maxSlots, line: line))
        }
        guard !nodes.isEmpty else {
            throw ConfigError("\(source): the hostfile lists no hosts; add one 'host slots=N' line per node")
        }
        self.nodes = nodes
    }

    /// Reads and parses the hostfile at `path`.
    /// - Throws: `ConfigError` when it cannot be read, is not text, or has a bad line.
    public init(contentsOf path: String) throws {
        // A regular file only: a FIFO or device given by mistake would be read forever.
        let values = try? URL(fileURLWithPath: path).resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
        guard values?.isRegularFile == true, let size = values?.fileSize, let data = FileBytes.contents(path) else {
            throw ConfigError("\(path): the hostfile cannot be read; give a file with one 'host slots=N' line per node")
        }
        guard size <= Self.maximumBytes, data.count <= Self.maximumBytes else {
            throw ConfigError("\(path): the hostfile is \(data.count) bytes, more than a hostfile's \(Self.maximumBytes); is this the right file?")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): the hostfile is not UTF-8 text; give a file with one 'host slots=N' line per node")
        }
        try self.init(text: text, source: path)
    }

    /// The same nodes without `hosts` (nodes found unreachable), in the same order.
    public func without(_ hosts: Set<String>) -> [Node] { nodes.filter { !hosts.contains($0.host) } }

    /// The nodes as mpirun reads them, one `host slots=N [max_slots=M]` line each.
    public static func render(_ nodes: [Node]) -> String {
        nodes.map { node in
            "\(node.host) slots=\(node.slots)" + (node.maxSlots.map { " max_slots=\($0)" } ?? "") + "\n"
        }.joined()
    }

    static func isHostName(_ word: String) -> Bool {
        word.utf8.count <= 255 && word.unicodeScalars.allSatisfy {
            ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "." || $0 == "-" || $0 == "_" || $0 == ":"
        }
    }

    /// A piece of a bad line, shortened and stripped of control characters for a one-line message.
    static func shown<S: StringProtocol>(_ text: S) -> String {
        let clean = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
        return clean.count > 60 ? String(clean.prefix(57)) + "…" : clean
    }
}
