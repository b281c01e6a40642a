import Yams

/// Where a config value came from. Every config error starts with it so the user can jump
/// straight to the offending line or flag.
enum ConfigOrigin: Equatable {
    /// A YAML file, at a 1-based line when the parser reported one.
    case file(path: String, line: Int?)
    /// A `--set key=value` flag, kept verbatim.
    case override(String)

    /// The same origin narrowed to `node`'s line (list elements can sit on their own lines).
    func at(_ node: Node) -> ConfigOrigin {
        if case let .file(path, _) = self, let line = node.mark?.line {
            return .file(path: path, line: line)
        }
        return self
    }

    /// `path:line`, `path`, or `--set key=value`.
    var prefix: String {
        switch self {
        case let .file(path, line?): return "\(path):\(line)"
        case let .file(path, nil): return path
        case let .override(text): return "--set \(text)"
        }
    }
}

/// Strict readers from YAML nodes to Swift values.
///
/// Strict on purpose: YAML 1.1 would happily turn `epochs: "3"` into a string or `lr: 1e-3x`
/// into text, and a training run that silently uses a default because a value didn't parse
/// wastes hours. Quoted scalars are strings only; numbers and booleans must be plain.
enum ConfigValue {
    /// The one-line error for `key` at `origin`.
    static func error(_ origin: ConfigOrigin, _ key: String, _ problem: String) -> ConfigError {
        ConfigError("\(origin.prefix): \(key): \(problem)")
    }

    /// How a node reads to a human, for "got ..." in messages.
    static func describe(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            if isNull(scalar) { return "nothing" }
            if isPlain(scalar) { return "'\(scalar.string)'" }
            return "the quoted string '\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// An integer written as a plain YAML scalar (`3`, `-1`, `+7`).
    static func int(_ node: Node, _ key: String, _ origin: ConfigOrigin) throws -> Int {
        if case let .scalar(scalar) = node, isPlain(scalar), let value = Int(scalar.string) {
            return value
        }
        throw error(origin, key, "expected an integer, got \(describe(node))\(quoteHint(node))")
    }

    /// A finite number written as a plain YAML scalar (`0.1`, `5e-4`, `1`).
    static func double(_ node: Node, _ key: String, _ origin: ConfigOrigin) throws -> Double {
        if case let .scalar(scalar) = node, isPlain(scalar), let value = Double(scalar.string) {
            guard value.isFinite else {
                throw error(origin, key, "expected a finite number, got \(describe(node))")
            }
            return value
        }
        throw error(origin, key, "expected a number, got \(describe(node))\(quoteHint(node))")
    }

    /// `true`/`false` (YAML 1.1 spellings `yes`/`no`/`on`/`off` accepted too), plain.
    static func bool(_ node: Node, _ key: String, _ origin: ConfigOrigin) throws -> Bool {
        if case let .scalar(scalar) = node, isPlain(scalar) {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        throw error(origin, key, "expected true or false, got \(describe(node))\(quoteHint(node))")
    }

    /// A non-empty string; plain or quoted.
    static func string(_ node: Node, _ key: String, _ origin: ConfigOrigin, allowEmpty: Bool = false) throws -> String {
        guard case let .scalar(scalar) = node, !isNull(scalar) else {
            throw error(origin, key, "expected a string, got \(describe(node))")
        }
        guard allowEmpty || !scalar.string.isEmpty else {
            throw error(origin, key, "must not be empty")
        }
        return scalar.string
    }

    /// The elements of a YAML list (block or flow). `example` shows the expected form.
    static func list(_ node: Node, _ key: String, _ origin: ConfigOrigin,
                     example: String) throws -> [Node] {
        guard case let .sequence(sequence) = node else {
            throw error(origin, key, "expected a list such as \(example), got \(describe(node))")
        }
        return Array(sequence)
    }

    /// One of `E`'s raw values; the message lists the valid ones and suggests the closest.
    static func choice<E: RawRepresentable & CaseIterable>(
        _ node: Node, _ key: String, _ origin: ConfigOrigin, what: String
    ) throws -> E where E.RawValue == String {
        let text = try string(node, key, origin)
        if let value = E(rawValue: text) { return value }
        let valid = E.allCases.map(\.rawValue)
        let hint = KeySuggestion.closest(to: text, among: valid).map { " (did you mean '\($0)'?)" } ?? ""
        throw error(origin, key,
                    "unknown \(what) '\(text)'\(hint); valid: \(valid.joined(separator: ", "))")
    }

    /// Plain (unquoted) scalars are the only ones YAML would read as numbers or booleans.
    static func isPlain(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain || scalar.style == .any
    }

    /// `key:` with no value, `~` and `null` all mean "nothing" in YAML.
    static func isNull(_ scalar: Node.Scalar) -> Bool {
        guard isPlain(scalar) else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A quoted number is a common copy-paste slip; say how to fix it.
    private static func quoteHint(_ node: Node) -> String {
        guard case let .scalar(scalar) = node, !isPlain(scalar) else { return "" }
        let text = scalar.string.lowercased()
        let looksTyped = Double(text) != nil || ["true", "false", "yes", "no", "on", "off"].contains(text)
        return looksTyped ? " (remove the quotes)" : ""
    }
}
