import Persistence
import Engine
import Foundation

/// One PyTorch-computed reference case (format: `shared/golden/README.md`).
public struct GoldenCase {
    public let name: String
    public let op: String
    public let attrs: [String: Any]
    public let rtol: Float
    public let atol: Float
    let file: SafeTensors
    let path: String

    /// Reads a case file; errors name the file and the missing piece.
    public init(path: String) throws {
        self.path = path
        file = try SafeTensors(contentsOf: path)
        name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard let op = file.metadata["op"] else { throw GoldenError("\(path): no 'op' in the metadata; not a golden case") }
        self.op = op
        let attrText = file.metadata["attrs"] ?? "{}"
        guard let data = attrText.data(using: .utf8),
              let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GoldenError("\(path): metadata 'attrs' is not a JSON object")
        }
        attrs = parsed
        guard let r = Float(file.metadata["rtol"] ?? ""), let a = Float(file.metadata["atol"] ?? "") else {
            throw GoldenError("\(path): metadata 'rtol'/'atol' missing or not numbers")
        }
        rtol = r
        atol = a
    }

    /// Names of the stored tensors that start with `prefix`, with the prefix removed.
    func names(withPrefix prefix: String) -> [String] {
        file.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    func tensor(_ name: String) throws -> Tensor { try file.tensor(name) }
    func ints(_ name: String) throws -> [Int] { try file.int64s(name).map { Int($0) } }
    func has(_ name: String) -> Bool { file.contains(name) }

    func attr<T>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let v = attrs[key] else { throw GoldenError("\(name): attribute '\(key)' is missing") }
        let converted: Any?
        switch (T.self, v as? NSNumber) {
        case (is Float.Type, let n?): converted = n.floatValue
        case (is Double.Type, let n?): converted = n.doubleValue
        case (is Int.Type, let n?): converted = n.intValue
        case (is Bool.Type, let n?): converted = n.boolValue
        default: converted = v
        }
        guard let t = converted as? T else { throw GoldenError("\(name): attribute '\(key)' has an unexpected type") }
        return t
    }

    func attr<T>(_ key: String, default value: T) throws -> T {
        attrs[key] == nil ? value : try attr(key, as: T.self)
    }
}

/// A golden case that could not be read or run.
public struct GoldenError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Worst element-wise error of `actual` against `expected` as a fraction of the tolerance
/// `atol + rtol·|expected|` (≤ 1 passes). Mismatched sizes count as infinitely wrong.
func toleranceRatio(_ actual: Tensor, _ expected: Tensor, rtol: Float, atol: Float) -> Float {
    guard actual.count == expected.count else { return .infinity }
    var worst: Float = 0
    for i in 0..<actual.count {
        let e = expected[flat: i]
        let err = abs(actual[flat: i] - e)
        let ratio = err.isNaN ? Float.infinity : err / (atol + rtol * abs(e))
        worst = max(worst, ratio)
    }
    return worst
}
