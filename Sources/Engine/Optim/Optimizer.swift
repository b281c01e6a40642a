/// A set of parameters that share hyper-parameters (PyTorch's param group).
public struct ParameterGroup {
    public var name: String
    /// Parameters with their dotted names (the names key the optimizer state in checkpoints).
    public var parameters: [(String, Tensor)]
    /// Multiplies the optimizer's learning rate for this group (e.g. 10 for a new head).
    public var lrScale: Float
    /// Weight decay for this group (0 for BN and biases in most recipes).
    public var weightDecay: Float

    public init(name: String, parameters: [(String, Tensor)], lrScale: Float = 1, weightDecay: Float) {
        self.name = name
        self.parameters = parameters
        self.lrScale = lrScale
        self.weightDecay = weightDecay
    }

    /// The usual split: weights of rank ≥ 2 decay, BN parameters and biases (rank 1) do not.
    public static func decayAndNoDecay(_ named: [(String, Tensor)], weightDecay: Float,
                                       noDecayOnBNAndBias: Bool = true) -> [ParameterGroup] {
        guard noDecayOnBNAndBias else { return [ParameterGroup(name: "all", parameters: named, weightDecay: weightDecay)] }
        let decay = named.filter { $0.1.rank >= 2 }
        let noDecay = named.filter { $0.1.rank < 2 }
        return [ParameterGroup(name: "decay", parameters: decay, weightDecay: weightDecay),
                ParameterGroup(name: "no_decay", parameters: noDecay, weightDecay: 0)]
    }
}

/// A first-order optimizer over parameter groups.
///
/// The schedule sets `learningRate` (and may set `weightDecayScale`) before every `step()`;
/// each group then uses `learningRate × lrScale` and `weightDecay × weightDecayScale`.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get set }
    /// Base learning rate for the next step.
    var learningRate: Float { get set }
    /// Multiplies every group's weight decay (a weight-decay schedule moves it).
    var weightDecayScale: Float { get set }
    /// Applies one update from the parameters' current `.grad`.
    func step()
    /// Optimizer state by name (`<kind>.<param name>`), for checkpoints; shares memory.
    func namedState() -> [(String, Tensor)]
    /// `step()` calls so far (informational; state that updates depend on is in `namedState`).
    var stepCount: Int { get set }
}

extension Optimizer {
    /// Drops every parameter's gradient (its buffer returns to the pool).
    public func zeroGrad() {
        for g in groups { for (_, p) in g.parameters { p.grad = nil } }
    }

    /// All parameters across groups.
    public var allParameters: [(String, Tensor)] { groups.flatMap(\.parameters) }

    /// Restores state saved by `namedState()` (`Tensor.load`: every buffer, nothing else).
    public func loadState(_ state: [String: Tensor]) throws {
        try Tensor.load(state, into: namedState())
    }
}

/// Per-parameter state buffers allocated once, zero-initialised, keyed by parameter identity.
struct StateSlots {
    private(set) var slots: [ObjectIdentifier: Tensor] = [:]
    private(set) var ordered: [(String, Tensor)] = []

    /// One zero tensor per parameter, of the parameter's shape (or `shape` when given).
    init(kind: String, groups: [ParameterGroup], shape: [Int]? = nil) {
        for g in groups {
            for (name, p) in g.parameters {
                let t = Tensor.zeros(shape ?? p.shape)
                slots[ObjectIdentifier(p)] = t
                ordered.append(("\(kind).\(name)", t))
            }
        }
    }

    subscript(_ p: Tensor) -> Tensor { slots[ObjectIdentifier(p)]! }
}
