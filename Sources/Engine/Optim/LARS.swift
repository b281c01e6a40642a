/// LARS as MoCo v3 uses it for large batches. For weights of rank ≥ 2:
/// g ← ∇ + wd·θ, then g ← g · η‖θ‖/‖g‖ (when both norms are positive); 1-d parameters
/// (BN, biases) get neither decay nor adaptation. Then μ-momentum: b ← μ·b + g; θ ← θ − lr·b.
public final class LARS: Optimizer {
    public var groups: [ParameterGroup]
    public var learningRate: Float
    public var weightDecayScale: Float = 1
    public let momentum: Float
    public let trustCoefficient: Float
    public var stepCount = 0
    private let buffers: StateSlots

    public init(groups: [ParameterGroup], lr: Float, momentum: Float = 0.9, trustCoefficient: Float = 0.001) {
        self.groups = groups
        self.learningRate = lr
        self.momentum = momentum
        self.trustCoefficient = trustCoefficient
        buffers = StateSlots(kind: "momentum", groups: groups)
    }

    public func namedState() -> [(String, Tensor)] { buffers.ordered }

    public func step() {
        for group in groups {
            let lr = learningRate * group.lrScale
            for (_, p) in group.parameters {
                guard let grad = p.grad else { continue }
                let n = p.count
                let w = p.data, g = grad.data, b = buffers[p].data
                var wd: Float = 0, q: Float = 1
                if p.rank > 1 {
                    wd = group.weightDecay * weightDecayScale
                    var pn: Float = 0, un: Float = 0
                    for i in 0..<n { let d = g[i] + wd * w[i]; pn += w[i] * w[i]; un += d * d }
                    pn = pn.squareRoot()
                    un = un.squareRoot()
                    if pn > 0 && un > 0 { q = trustCoefficient * pn / un }
                }
                for i in 0..<n {
                    b[i] = momentum * b[i] + (g[i] + wd * w[i]) * q
                    w[i] -= lr * b[i]
                }
            }
        }
        stepCount += 1
    }
}
