/// Stochastic gradient descent with momentum, as `torch.optim.SGD` applies it:
/// g ← ∇ + wd·θ;  b ← μ·b + g;  g ← g + μ·b (Nesterov) or b;  θ ← θ − lr·g.
/// (PyTorch sets b = g on the first step; with b starting at zero that is the same update,
/// and it keeps the rule stateless across a checkpoint restore.)
public final class SGD: Optimizer {
    public var groups: [ParameterGroup]
    public var learningRate: Float
    public var weightDecayScale: Float = 1
    public let momentum: Float
    public let nesterov: Bool
    public var stepCount = 0
    private let buffers: StateSlots

    public init(groups: [ParameterGroup], lr: Float, momentum: Float = 0, nesterov: Bool = false) {
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.groups = groups
        self.learningRate = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.buffers = StateSlots(kind: "momentum", groups: groups)
    }

    public func namedState() -> [(String, Tensor)] { momentum > 0 ? buffers.ordered : [] }

    public func step() {
        for group in groups {
            let lr = learningRate * group.lrScale
            let wd = group.weightDecay * weightDecayScale
            for (_, p) in group.parameters {
                guard let grad = p.grad else { continue }
                let n = p.count
                let w = p.data, g = grad.data
                if momentum == 0 {
                    for i in 0..<n { w[i] -= lr * (g[i] + wd * w[i]) }
                    continue
                }
                let b = buffers[p].data
                let mu = momentum
                for i in 0..<n {
                    let d = g[i] + wd * w[i]
                    let buf = mu * b[i] + d
                    b[i] = buf
                    w[i] -= lr * (nesterov ? d + mu * buf : buf)
                }
            }
        }
        stepCount += 1
    }
}
