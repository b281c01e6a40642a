import Config
import Datasets
import Engine
import Training

/// Every training method Concord has, by `train.method`. Adding a method is a folder, its
/// config section, and one line in `methods`; the trainer, the step and the command line stay
/// as they are.
public enum MethodRegistry {
    /// One registered method.
    public struct Entry {
        /// Its `train.method` value.
        public let name: TrainConfig.TrainMethod
        let make: ObjectiveFactory
        let probed: (TrainConfig, ImageShape, inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String)

        init<Method: TrainingMethod>(_ method: Method.Type) {
            name = Method.name
            make = { context, rng in try Method.objective(context, rng: &rng) }
            probed = { config, input, rng in try Method.probedEncoder(config, input: input, rng: &rng) }
        }
    }

    /// The registered methods.
    public static let methods: [Entry] = [Entry(Supervised.self), Entry(MoCoV2.self), Entry(SimCLR.self), Entry(MoCoV3.self), Entry(MAE.self)]

    /// The objective `context.config.train.method` names (an `ObjectiveFactory`).
    public static func objective(_ context: MethodContext, rng: inout RandomGenerator) throws -> any TrainingObjective {
        let wanted = context.config.train.method
        guard let method = methods.first(where: { $0.name == wanted }) else {
            throw TrainingError("train.method \(wanted.rawValue) has no registered implementation; use one of "
                                + methods.map(\.name.rawValue).joined(separator: ", "))
        }
        return try method.make(context, &rng)
    }

    /// The encoder whose trunk `config.train.method`'s linear probe reads, for images of
    /// `input`, and the prefix of its tensors in that method's checkpoints.
    public static func probedEncoder(_ config: TrainConfig, input: ImageShape, rng: inout RandomGenerator) throws -> (encoder: any FeatureEncoder, prefix: String) {
        guard let method = methods.first(where: { $0.name == config.train.method }) else {
            throw TrainingError("train.method \(config.train.method.rawValue) has no registered implementation")
        }
        return try method.probed(config, input, &rng)
    }
}
