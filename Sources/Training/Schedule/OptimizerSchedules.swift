import Config
import Engine

/// The learning rate and weight decay over a run, both pure functions of the global
/// iteration, and how they reach the optimizer at each step.
public struct OptimizerSchedules: Sendable {
    /// The learning rate at each iteration.
    public let learningRate: Schedule
    /// The weight decay at each iteration.
    public let weightDecay: Schedule
    /// The decay the optimizer's groups were built with (`optimizer.weight_decay`): each
    /// step scales them by `weightDecay(i) / this`; 0 leaves them alone.
    public let baseWeightDecay: Double

    /// `learningRate`, and the weight decay the optimizer's groups were built with throughout.
    public init(learningRate: Schedule) {
        self.learningRate = learningRate
        weightDecay = Schedule(base: 0, segments: [.constant(iterations: nil)])
        baseWeightDecay = 0
    }

    /// A config's `schedule:` section over `iterationsPerEpoch`-step epochs, from `baseLR`
    /// (`TrainConfig.baseLR`, after the linear scaling rule).
    public init(config: TrainConfig, baseLR: Double, iterationsPerEpoch: Int) {
        learningRate = ScheduleFactory.learningRate(config, base: baseLR, iterationsPerEpoch: iterationsPerEpoch)
        weightDecay = ScheduleFactory.weightDecay(config, iterationsPerEpoch: iterationsPerEpoch)
        baseWeightDecay = config.optimizer.weightDecay
    }

    /// Sets `optimizer`'s learning rate and weight-decay scale for `iteration`; returns the
    /// learning rate.
    @discardableResult
    public func apply(to optimizer: any Optimizer, at iteration: Int) -> Double {
        let lr = learningRate.value(at: iteration)
        optimizer.learningRate = Float(lr)
        if baseWeightDecay > 0 {
            optimizer.weightDecayScale = Float(weightDecay.value(at: iteration) / baseWeightDecay)
        }
        return lr
    }
}
