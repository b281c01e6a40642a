import Engine
import Foundation
import Yams

/// Reads a `TrainConfig` from a YAML file plus `--set key=value` overrides.
///
/// Every value is type- and range-checked; unknown keys, duplicate keys and syntax errors are
/// errors, never ignored. Each failure is one `ConfigError` line that starts with
/// `file:line` (or the offending `--set ...`), names the key and says what to change.
public enum ConfigLoader {
    /// Loads the config file at `path`, then applies `overrides` in order (later wins).
    ///
    /// `run.dir` defaults to `runs/<file stem>` (`configs/smoke.yaml` → `runs/smoke`).
    /// - Parameter overrides: `key=value` strings as given to `--set`, e.g. `train.epochs=3`,
    ///   `optimizer.name=adamw`, `schedule.milestones=[5,10]`. The value is read as YAML.
    public static func load(path: String, overrides: [String] = []) throws -> TrainConfig {
        try parse(yaml: try readFile(path), source: path, overrides: overrides)
    }

    /// Reads a config from YAML text. `source` is the name errors use and the stem
    /// `run.dir` defaults from.
    public static func parse(yaml: String, source: String, overrides: [String] = []) throws -> TrainConfig {
        var config = TrainConfig()
        config.run.dir = defaultRunDir(for: source)
        let root: Node?
        try checkWithinYAMLLimits(yaml, origin: source)
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            let (location, problem) = describeYAMLError(error)
            throw ConfigError("\(source)\(location): invalid YAML: \(problem); fix the syntax there "
                                   + "(indent with spaces, not tabs; a missing ':'; an unclosed bracket or quote)")
        }
        // An empty (or comments-only) file has no root: all defaults.
        if let root {
            try apply(document: root, to: &config, origin: .file(path: source, line: nil))
        }
        try apply(overrides: overrides, to: &config)
        return config
    }

    /// `config` with `overrides` applied, validated exactly like values from a file.
    /// Useful when the base config comes from a run directory rather than a file path.
    public static func applying(overrides: [String], to config: TrainConfig) throws -> TrainConfig {
        var result = config
        try apply(overrides: overrides, to: &result)
        return result
    }

    /// `runs/<stem of source>`; `runs/default` when the source has no usable name.
    public static func defaultRunDir(for source: String) -> String {
        let stem = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
        return "runs/" + (stem.isEmpty ? "default" : stem)
    }

    // MARK: - File

    private static func readFile(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError("\(path): config file not found; check the path (shipped configs are in configs/)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError("\(path): is a directory; pass a YAML config file such as configs/smoke.yaml")
        }
        guard let data = FileBytes.contents(path) else {
            throw ConfigError("\(path): cannot read the config file; check its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): config file is not UTF-8 text; save it as UTF-8")
        }
        return text
    }

    /// A YAML syntax error as (`:line:column` or "", one-line problem).
    private static func describeYAMLError(_ error: Error) -> (location: String, problem: String) {
        func oneLine(_ text: String) -> String {
            text.split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        switch error as? YamlError {
        case let .scanner(context, problem, mark, _)?,
             let .parser(context, problem, mark, _)?,
             let .composer(context, problem, mark, _)?:
            let within = context.map { " (\(oneLine($0.text)) started at line \($0.mark.line))" } ?? ""
            return (":\(mark.line):\(mark.column)", oneLine(problem) + within)
        case let .reader(problem, offset, _, _)?:
            return ("", oneLine(problem) + (offset.map { " at character \($0)" } ?? ""))
        default:
            return ("", oneLine(String(describing: error)))
        }
    }

    // MARK: - Document

    private static func apply(document root: Node, to config: inout TrainConfig, origin: ConfigOrigin) throws {
        guard case let .mapping(mapping) = root else {
            if case let .scalar(scalar) = root, ConfigValue.isNull(scalar) { return }
            throw ConfigError("\(origin.at(root).prefix): expected sections ("
                                   + ConfigSchema.sections.joined(separator: ", ")
                                   + ") at the top level, got \(ConfigValue.describe(root))")
        }
        var seen: [String: Int] = [:]
        for (keyNode, value) in mapping {
            let here = origin.at(keyNode)
            let section = keyNode.string ?? ConfigValue.describe(keyNode)
            try checkDuplicate(section, at: here, seen: &seen)
            guard ConfigSchema.sections.contains(section) else {
                throw unknownKey(section, at: here)
            }
            let entries: Node.Mapping
            switch value {
            case let .mapping(body):
                entries = body
            case let .scalar(scalar) where ConfigValue.isNull(scalar):
                continue  // `train:` with everything commented out means "all defaults".
            default:
                let example = ConfigSchema.fields.first { $0.section == section }?.key ?? section
                throw ConfigError("\(here.prefix): \(section): expected a section of keys such as "
                                       + "'\(example)' indented below it, got \(ConfigValue.describe(value))")
            }
            for (nameNode, valueNode) in entries {
                let keyHere = origin.at(nameNode)
                let key = section + "." + (nameNode.string ?? ConfigValue.describe(nameNode))
                try checkDuplicate(key, at: keyHere, seen: &seen)
                guard let field = ConfigSchema.byKey[key] else {
                    throw unknownKey(key, at: keyHere)
                }
                try field.apply(&config, valueNode, keyHere)
            }
        }
    }

    private static func checkDuplicate(_ key: String, at origin: ConfigOrigin, seen: inout [String: Int]) throws {
        let line: Int
        if case let .file(_, l?) = origin { line = l } else { line = 0 }
        if let first = seen[key] {
            throw ConfigError("\(origin.prefix): duplicate key '\(key)' (first set at line \(first)); keep only one")
        }
        seen[key] = line
    }

    /// "unknown key 'train.epoch' (did you mean 'train.epochs'?)", or the valid keys when
    /// nothing is close.
    private static func unknownKey(_ key: String, at origin: ConfigOrigin) -> ConfigError {
        let isTopLevel = !key.contains(".")
        let suggestion = isTopLevel
            ? KeySuggestion.closest(to: key, among: ConfigSchema.sections)
                ?? KeySuggestion.forKey(key, among: ConfigSchema.keys)
            : KeySuggestion.forKey(key, among: ConfigSchema.keys)
        if let suggestion {
            return ConfigError("\(origin.prefix): unknown key '\(key)' (did you mean '\(suggestion)'?)")
        }
        let section = String(key.prefix { $0 != "." })
        let valid = isTopLevel || !ConfigSchema.sections.contains(section)
            ? "valid sections: " + ConfigSchema.sections.joined(separator: ", ")
            : "valid keys in '\(section)': "
                + ConfigSchema.fields.filter { $0.section == section }.map(\.name).joined(separator: ", ")
        return ConfigError("\(origin.prefix): unknown key '\(key)'; \(valid)")
    }

    // MARK: - YAML

    /// Deepest nesting a config may have, counted as `[` / `{` brackets plus, on each line, the
    /// indentation and the `- ` / `? ` indicators that open a block collection. A config's
    /// values are at most lists inside a mapping; Yams builds its node tree recursively, and
    /// 60,000 `[` or 100,000 `- ` on one line overflowed the stack (found while writing
    /// the config fuzz target), so deeper text never reaches it.
    static let maximumNesting = 64
    /// Largest config text: the shipped ones are 1–3 KiB.
    static let maximumLength = 1 << 20

    /// Refuses `text` before Yams reads it when it is larger or nested deeper than a config
    /// can be. `origin` starts the error message.
    private static func checkWithinYAMLLimits(_ text: String, origin: String) throws {
        guard text.utf8.count <= maximumLength else {
            throw ConfigError("\(origin): \(text.utf8.count) bytes of YAML, more than a config's \(maximumLength); is this the right file?")
        }
        // block: the length of a line's prefix of indentation and indicators, which bounds how
        // many block collections it opens.
        var brackets = 0, line = 1, inPrefix = true, block = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"): brackets += 1; inPrefix = false
            case UInt8(ascii: "]"), UInt8(ascii: "}"): brackets = max(0, brackets - 1); inPrefix = false
            case UInt8(ascii: "\n"): line += 1; inPrefix = true; block = 0
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "-"), UInt8(ascii: "?"): if inPrefix { block += 1 }
            default: inPrefix = false
            }
            guard brackets <= maximumNesting, block <= 4 * maximumNesting else {
                throw ConfigError("\(origin):\(line): the YAML is nested more than \(maximumNesting) deep; a config's values are numbers, strings or lists")
            }
        }
    }

    // MARK: - Overrides

    private static func apply(overrides: [String], to config: inout TrainConfig) throws {
        for text in overrides {
            let origin = ConfigOrigin.override(text)
            guard let equals = text.firstIndex(of: "=") else {
                throw ConfigError("\(origin.prefix): expected key=value, e.g. --set train.epochs=3")
            }
            let key = text[..<equals].trimmingCharacters(in: .whitespaces)
            let value = String(text[text.index(after: equals)...])
            guard let field = ConfigSchema.byKey[key] else {
                if ConfigSchema.sections.contains(key),
                   let example = ConfigSchema.fields.first(where: { $0.section == key }) {
                    throw ConfigError("\(origin.prefix): '\(key)' is a section; set one key at a time, "
                                           + "e.g. --set \(example.key)=...")
                }
                throw unknownKey(key, at: origin)
            }
            let node: Node
            try checkWithinYAMLLimits(value, origin: origin.prefix)
            do {
                // No value at all reads as YAML null, which each field then rejects by type.
                node = try Yams.compose(yaml: value) ?? Node("")
            } catch {
                throw ConfigError("\(origin.prefix): \(key): value is not valid YAML: "
                                       + describeYAMLError(error).problem
                                       + "; write lists as [5, 10] and quote strings with special characters")
            }
            try field.apply(&config, node, origin)
        }
    }
}
