import Config

/// One value in a `metrics.jsonl` record. Literals work directly:
/// `["epoch": 3, "loss": 0.41, "phase": "train"]`.
public enum MetricValue: Equatable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
                         ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// The value as JSON text. Doubles use the shortest text that reads back exactly;
    /// NaN and infinities (a diverged loss) become `null`, since JSON has no spelling for them
    /// and strict readers reject the `NaN` some writers emit.
    public var json: String {
        switch self {
        case let .int(value): return String(value)
        case let .double(value): return value.isFinite ? "\(value)" : "null"
        case let .bool(value): return value ? "true" : "false"
        case let .string(value): return JSONString.quoted(value)
        }
    }

    /// A JSON object with keys in sorted order, so records diff and grep predictably.
    public static func jsonObject(_ record: [String: MetricValue]) -> String {
        let members = record.sorted { $0.key < $1.key }.map { JSONString.quoted($0.key) + ":" + $0.value.json }
        return "{" + members.joined(separator: ",") + "}"
    }
}
