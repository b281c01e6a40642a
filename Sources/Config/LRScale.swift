/// One `optimizer.lr_scales` entry, `"PATTERN=SCALE"`: parameters whose dotted name matches
/// the shell glob PATTERN train at SCALE × the learning rate (first match wins).
public struct LRScale: Equatable, Sendable {
    /// Shell glob on dotted parameter names, e.g. `fc.*`.
    public let pattern: String
    /// The multiplier (> 0, finite).
    public let scale: Float

    /// The entry `text` (split at its last `=`), or nil when it is not "PATTERN=SCALE" with a
    /// positive SCALE.
    public init?(parsing text: String) {
        guard let eq = text.lastIndex(of: "=") else { return nil }
        let pattern = String(text[..<eq]), number = text[text.index(after: eq)...]
        guard !pattern.isEmpty, let scale = Float(number), scale > 0, scale.isFinite else { return nil }
        self.pattern = pattern
        self.scale = scale
    }

    /// Why `text` is not an entry, or nil when it is.
    static func problem(with text: String) -> String? {
        LRScale(parsing: text) == nil ? "expected \"PATTERN=SCALE\" with a positive SCALE, such as \"fc.*=10\", got \"\(text)\"" : nil
    }
}
