/// A layer or model: named parameters and buffers, train/eval mode, and `forward`.
///
/// Names are dotted paths exactly as PyTorch / torchvision build them (`layer2.0.bn1.weight`),
/// so checkpoints and safetensors files move between Concord and PyTorch unchanged.
///
/// ```swift
/// let model = ResNet.cifar(depth: 20, inputChannels: 1, numClasses: 10, rng: &rng)
/// for (name, p) in model.namedParameters() { print(name, p.shape) }
/// let logits = model(images)   // images: [N, 1, 28, 28] → logits: [N, 10]
/// ```
public protocol Module: AnyObject {
    /// Direct sub-modules with their local names, in registration order.
    var children: [(String, any Module)] { get }
    /// Parameters owned directly by this module (not by children).
    var localParameters: [(String, Tensor)] { get }
    /// Non-trainable state owned directly by this module (e.g. BN running statistics).
    var localBuffers: [(String, Tensor)] { get }
    /// Training (batch statistics, dropout on) or evaluation mode.
    var isTraining: Bool { get set }
    func forward(_ x: Tensor) -> Tensor
}

extension Module {
    public var children: [(String, any Module)] { [] }
    public var localParameters: [(String, Tensor)] { [] }
    public var localBuffers: [(String, Tensor)] { [] }

    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

    /// Every parameter with its dotted name, depth-first in registration order.
    public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        var out = localParameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every buffer with its dotted name.
    public func namedBuffers(prefix: String = "") -> [(String, Tensor)] {
        var out = localBuffers.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
        return out
    }

    /// All parameters, in `namedParameters` order.
    public func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// Switches this module and all its children to training or evaluation mode.
    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, child) in children { child.train(on) }
    }

    /// Switches to evaluation mode.
    public func eval() { train(false) }

    /// Total number of parameter elements.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.count } }

    /// This module and its descendants that are `T`s, depth-first in registration order.
    public func layers<T>(of type: T.Type) -> [T] {
        ((self as? T).map { [$0] } ?? []) + children.flatMap { $0.1.layers(of: type) }
    }

    /// Copies parameters and buffers by name from `state` (`load(_:into:)`): every name must
    /// be there with its shape, and nothing else.
    public func load(state: [String: Tensor]) throws {
        try Tensor.load(state, into: namedParameters() + namedBuffers())
    }
}

extension Tensor {
    /// Copies `state[name]` into each named tensor of `targets`, after checking all of them:
    /// what is missing, extra or of the wrong shape is reported together (the first few, and
    /// how many more), and nothing is copied unless everything matches.
    public static func load(_ state: [String: Tensor], into targets: [(String, Tensor)]) throws {
        var problems: [String] = []
        for (name, t) in targets {
            guard let src = state[name] else { problems.append("missing '\(name)'"); continue }
            if src.shape != t.shape { problems.append("'\(name)' has shape \(src.shape), the model expects \(t.shape)") }
        }
        let ownNames = Set(targets.map(\.0))
        for name in state.keys.sorted() where !ownNames.contains(name) { problems.append("unexpected '\(name)'") }
        if !problems.isEmpty { throw ModuleError(mismatches: problems) }
        for (name, t) in targets { if let src = state[name] { t.assign(src) } }
    }
}

/// A mismatch between a model and the state loaded into it.
public struct ModuleError: UserInputError {
    /// Each missing, unexpected or misshapen tensor, in the model's order.
    public let mismatches: [String]

    public init(mismatches: [String]) { self.mismatches = mismatches }

    /// The first five mismatches, and how many more there are.
    public var listed: String {
        mismatches.prefix(5).joined(separator: "; ") + (mismatches.count > 5 ? " (and \(mismatches.count - 5) more)" : "")
    }

    public var description: String { "state does not match the model: " + listed }
}
