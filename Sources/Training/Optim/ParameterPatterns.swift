import Config
import Engine
import Foundation

/// Parameter groups from name patterns: `optimizer.lr_scales` ("PATTERN=SCALE", first match
/// wins) and `optimizer.no_decay` (patterns exempt from weight decay), on top of
/// `optimizer.no_decay_bn_bias`. Patterns are shell globs on dotted names (`fc.*`, `*.bias`,
/// `layer4.*`), matched with fnmatch.
public enum ParameterPatterns {
    /// Whether `name` matches the glob `pattern`.
    public static func matches(_ name: String, _ pattern: String) -> Bool { fnmatch(pattern, name, 0) == 0 }

    /// Groups of parameters sharing a learning-rate multiplier and a weight decay, in order of
    /// first appearance; names say what they are (`lr×10, no decay`).
    /// `layerScale` multiplies each parameter's rate on top (layer-wise decay, `LayerDecay`).
    public static func groups(_ named: [(String, Tensor)], weightDecay: Float, noDecayBNBias: Bool,
                              lrScales: [String], noDecay: [String], layerScale: (String) -> Float = { _ in 1 }) -> [ParameterGroup] {
        let scales = lrScales.compactMap(LRScale.init(parsing:))
        var order: [String] = []
        var members: [String: (scale: Float, decay: Float, parameters: [(String, Tensor)])] = [:]
        for (name, t) in named {
            let scale = (scales.first { matches(name, $0.pattern) }?.scale ?? 1) * layerScale(name)
            let exempt = (noDecayBNBias && t.rank < 2) || noDecay.contains { matches(name, $0) }
            let decay: Float = exempt ? 0 : weightDecay
            let key = (scale == 1 ? "" : "lr×\(scale), ") + (exempt ? "no decay" : "decay")
            if members[key] == nil { order.append(key); members[key] = (scale, decay, []) }
            members[key]?.parameters.append((name, t))
        }
        return order.map { key in
            let m = members[key]!   // every key in `order` was inserted just above
            return ParameterGroup(name: key, parameters: m.parameters, lrScale: m.scale, weightDecay: m.decay)
        }
    }

    /// Patterns that match no parameter (probably a typo), for a warning.
    public static func unmatched(_ named: [(String, Tensor)], lrScales: [String], noDecay: [String]) -> [String] {
        let patterns = lrScales.compactMap(LRScale.init(parsing:)).map(\.pattern) + noDecay
        return patterns.filter { p in !named.contains { matches($0.0, p) } }
    }
}
