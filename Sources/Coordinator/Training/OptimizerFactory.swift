import Engine

/// Builds the optimizer and learning-rate schedule a config describes.
public enum OptimizerFactory {
    /// Parameter groups split into decayed weights and undecayed BN/bias parameters (when
    /// `no_decay_bn_bias`); `lr` is the base rate (after any linear scaling).
    public static func make(_ c: TrainConfig.OptimizerSection, parameters: [(String, Tensor)], lr: Double) -> any Optimizer {
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

public enum ScheduleFactory {
    /// Linear warm-up (if any) followed by the configured decay, in iterations.
    public static func learningRate(_ config: TrainConfig, base: Double, iterationsPerEpoch: Int) -> Schedule {
        let s = config.schedule
        let total = config.train.epochs * iterationsPerEpoch
        let warmup = min(total, Int((s.warmupEpochs * Double(iterationsPerEpoch)).rounded()))
        var segments: [Schedule.Segment] = []
        if warmup > 0 { segments.append(.linearWarmup(iterations: warmup, startFactor: s.warmupStartFactor)) }
        switch s.kind {
        case .cosine: segments.append(.cosine(iterations: max(total - warmup, 1), final: s.finalLR))
        case .multistep:
            segments.append(.multistep(milestones: s.milestones.map { $0 * iterationsPerEpoch - warmup },
                                       gamma: s.gamma, iterations: nil))
        case .constant: segments.append(.constant(iterations: nil))
        }
        return Schedule(base: base, segments: segments)
    }
}
