import Config
import Engine

/// Builds the optimizer a config's `optimizer:` section describes, with its parameter groups.
public enum OptimizerFactory {
    /// Parameter groups split into decayed weights and undecayed BN/bias parameters (when
    /// `no_decay_bn_bias`); `lr` is the base rate (after any linear scaling).
    /// - Throws: `TrainingError` for settings that contradict each other.
    /// `vitDepth` is the depth of the ViT being trained (nil for other models): layer-wise
    /// decay (`optimizer.layer_decay`) needs it.
    public static func make(_ c: TrainConfig.OptimizerSection, parameters: [(String, Tensor)], lr: Double,
                            vitDepth: Int? = nil) throws -> any Optimizer {
        if c.nesterov && (c.name != .sgd || c.momentum == 0) {
            throw TrainingError("optimizer.nesterov needs optimizer.name sgd with optimizer.momentum > 0 (got \(c.name.rawValue), momentum \(c.momentum)); set optimizer.nesterov: false")
        }
        let unmatched = ParameterPatterns.unmatched(parameters, lrScales: c.lrScales, noDecay: c.noDecay)
        guard unmatched.isEmpty else {
            throw TrainingError("optimizer: pattern(s) \(unmatched.map { "'\($0)'" }.joined(separator: ", ")) match no parameter of this model (names look like '\(parameters.first?.0 ?? "")'); fix or remove them")
        }
        if c.layerDecay != 1 && vitDepth == nil {
            throw TrainingError("optimizer.layer_decay \(c.layerDecay) needs model.name vit (it decays the rate by block); set it to 1.0 for this model")
        }
        let layerScale: (String) -> Float = { name in
            guard let depth = vitDepth, c.layerDecay != 1 else { return 1 }
            return LayerDecay.scale(of: name, depth: depth, decay: c.layerDecay)
        }
        let groups = ParameterPatterns.groups(parameters, weightDecay: Float(c.weightDecay), noDecayBNBias: c.noDecayBNBias,
                                              lrScales: c.lrScales, noDecay: c.noDecay, layerScale: layerScale)
        let lr = Float(lr)
        switch c.name {
        case .adamw:
            return AdamW(groups: groups, lr: lr, beta1: Float(c.beta1), beta2: Float(c.beta2), eps: Float(c.eps))
        case .lars:
            return LARS(groups: groups, lr: lr, momentum: Float(c.momentum), trustCoefficient: Float(c.trustCoefficient))
        case .sgd:
            return SGD(groups: groups, lr: lr, momentum: Float(c.momentum), nesterov: c.nesterov)
        case .rmsprop:
            return RMSProp(groups: groups, lr: lr, alpha: Float(c.alpha), eps: Float(c.eps), momentum: Float(c.momentum), centered: c.centered)
        }
    }
}
