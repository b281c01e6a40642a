import Config
import Engine

/// Builds the optimizer a config's `optimizer:` section describes, with its parameter groups.
public enum OptimizerFactory {
    /// Parameter groups split into decayed weights and undecayed BN/bias parameters (when
    /// `no_decay_bn_bias`); `lr` is the base rate (after any linear scaling).
    /// - Throws: `TrainingError` for settings that contradict each other.
    public static func make(_ c: TrainConfig.OptimizerSection, parameters: [(String, Tensor)], lr: Double) throws -> any Optimizer {
        if c.nesterov && (c.name != .sgd || c.momentum == 0) {
            throw TrainingError("optimizer.nesterov needs optimizer.name sgd with optimizer.momentum > 0 (got \(c.name.rawValue), momentum \(c.momentum)); set optimizer.nesterov: false")
        }
        let unmatched = ParameterPatterns.unmatched(parameters, lrScales: c.lrScales, noDecay: c.noDecay)
        guard unmatched.isEmpty else {
            throw TrainingError("optimizer: pattern(s) \(unmatched.map { "'\($0)'" }.joined(separator: ", ")) match no parameter of this model (names look like '\(parameters.first?.0 ?? "")'); fix or remove them")
        }
        let groups = ParameterPatterns.groups(parameters, weightDecay: Float(c.weightDecay), noDecayBNBias: c.noDecayBNBias,
                                              lrScales: c.lrScales, noDecay: c.noDecay)
        let lr = Float(lr)
        switch c.name {
        case .adamw:
            return AdamW(groups: groups, lr: lr, beta1: Float(c.beta1), beta2: Float(c.beta2), eps: Float(c.eps))
        case .lars:
            return LARS(groups: groups, lr: lr, momentum: Float(c.momentum), trustCoefficient: Float(c.trustCoefficient))
        case .sgd:
            return SGD(groups: groups, lr: lr, momentum: Float(c.momentum), nesterov: c.nesterov)
        }
    }
}
