import Engine

/// Builds the optimizer and learning-rate schedule a config describes.
public enum OptimizerFactory {
    /// Parameter groups split into decayed weights and undecayed BN/bias parameters (when
    /// `no_decay_bn_bias`); `lr` is the base rate (after any linear scaling).
    /// - Throws: `CoordinatorError` for settings that contradict each other.
    public static func make(_ c: TrainConfig.OptimizerSection, parameters: [(String, Tensor)], lr: Double) throws -> any Optimizer {
        if c.nesterov && (c.name != .sgd || c.momentum == 0) {
            throw CoordinatorError("optimizer.nesterov needs optimizer.name sgd with optimizer.momentum > 0 (got \(c.name.rawValue), momentum \(c.momentum)); set optimizer.nesterov: false")
        }
        let groups = ParameterGroup.decayAndNoDecay(parameters, weightDecay: Float(c.weightDecay),
                                                    noDecayOnBNAndBias: c.noDecayBNBias)
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
