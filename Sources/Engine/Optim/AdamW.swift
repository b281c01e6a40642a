import Foundation

/// Adam with decoupled weight decay (`torch.optim.AdamW`):
/// θ ← θ·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
/// θ ← θ − lr·m̂ / (√v̂ + ε) with bias-corrected m̂, v̂. Like PyTorch, each parameter counts
/// its own steps (a parameter without a gradient on some step is not advanced).
public final class AdamW: Optimizer {
    public var groups: [ParameterGroup]
    public var learningRate: Float
    public var weightDecayScale: Float = 1
    public let beta1: Float, beta2: Float, eps: Float
    public var stepCount = 0
    private let m: StateSlots, v: StateSlots
    /// Steps taken by each parameter: one float per parameter, in `namedState` as `step.<name>`.
    private let steps: StateSlots

    public init(groups: [ParameterGroup], lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.groups = groups
        self.learningRate = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        m = StateSlots(kind: "exp_avg", groups: groups)
        v = StateSlots(kind: "exp_avg_sq", groups: groups)
        steps = StateSlots(kind: "step", groups: groups, shape: [1])
    }

    public func namedState() -> [(String, Tensor)] { m.ordered + v.ordered + steps.ordered }

    public func step() {
        stepCount += 1
        for group in groups {
            let lr = learningRate * group.lrScale
            let wd = group.weightDecay * weightDecayScale
            for (_, p) in group.parameters {
                guard let grad = p.grad else { continue }
                let t = steps[p].data
                t[0] += 1
                let c1 = 1 - Float(pow(Double(beta1), Double(t[0])))
                let c2 = 1 - Float(pow(Double(beta2), Double(t[0])))
                let w = p.data, g = grad.data, mp = m[p].data, vp = v[p].data
                let (b1, b2, e) = (beta1, beta2, eps)
                let c2Root = c2.squareRoot()
                for i in 0..<p.count {
                    w[i] *= 1 - lr * wd
                    mp[i] = b1 * mp[i] + (1 - b1) * g[i]
                    vp[i] = b2 * vp[i] + (1 - b2) * g[i] * g[i]
                    w[i] -= lr * (mp[i] / c1) / (vp[i].squareRoot() / c2Root + e)
                }
            }
        }
    }
}
