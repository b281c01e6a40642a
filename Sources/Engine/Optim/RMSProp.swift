/// RMSProp as `torch.optim.RMSprop` applies it:
/// g ← ∇ + wd·θ;  s ← α·s + (1−α)·g²;  with `centered`: ḡ ← α·ḡ + (1−α)·g, d = √(s − ḡ²) + ε,
/// else d = √s + ε;  with momentum μ > 0: b ← μ·b + g/d, θ ← θ − lr·b;  else θ ← θ − lr·g/d.
public final class RMSProp: Optimizer {
    public var groups: [ParameterGroup]
    public var learningRate: Float
    public var weightDecayScale: Float = 1
    public let alpha: Float, eps: Float, momentum: Float
    public let centered: Bool
    public var stepCount = 0
    private let squareAverage: StateSlots, gradientAverage: StateSlots, buffers: StateSlots

    public init(groups: [ParameterGroup], lr: Float, alpha: Float = 0.99, eps: Float = 1e-8, momentum: Float = 0, centered: Bool = false) {
        self.groups = groups
        self.learningRate = lr
        self.alpha = alpha
        self.eps = eps
        self.momentum = momentum
        self.centered = centered
        squareAverage = StateSlots(kind: "square_avg", groups: groups)
        gradientAverage = StateSlots(kind: "grad_avg", groups: groups)
        buffers = StateSlots(kind: "momentum_buffer", groups: groups)
    }

    /// PyTorch's state names; `grad_avg` only when centered, the buffer only with momentum.
    public func namedState() -> [(String, Tensor)] {
        squareAverage.ordered + (centered ? gradientAverage.ordered : []) + (momentum > 0 ? buffers.ordered : [])
    }

    public func step() {
        stepCount += 1
        for group in groups {
            let lr = learningRate * group.lrScale
            let wd = group.weightDecay * weightDecayScale
            for (_, p) in group.parameters {
                guard let grad = p.grad else { continue }
                let w = p.data, g0 = grad.data, s = squareAverage[p].data
                let ga = centered ? gradientAverage[p].data : nil, b = momentum > 0 ? buffers[p].data : nil
                let (a, e, mu) = (alpha, eps, momentum)
                for i in 0..<p.count {
                    let g = g0[i] + wd * w[i]
                    s[i] = a * s[i] + (1 - a) * g * g
                    var mean: Float = 0
                    if let ga { ga[i] = a * ga[i] + (1 - a) * g; mean = ga[i] }
                    let d = (s[i] - mean * mean).squareRoot() + e
                    if let b { b[i] = mu * b[i] + g / d; w[i] -= lr * b[i] } else { w[i] -= lr * g / d }
                }
            }
        }
    }
}
