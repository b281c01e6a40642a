import Config
import Datasets
import Engine
import Training

/// Builds the network a config's `model:` section names.
public enum ModelFactory {
    /// A freshly initialised model for images of `input`; a ViT whose patch or heads do not
    /// fit is a `TrainingError` naming the key.
    public static func make(_ config: TrainConfig.ModelSection, input: ImageShape, rng: inout RandomGenerator) throws -> any Module {
        let inputChannels = input.channels
        switch config.name {
        case .vit:
            return VisionTransformer(try vitShape(config, input: input), rng: &rng)
        case .resnet20: return ResNet.cifar(depth: 20, width: config.width, inputChannels: inputChannels, numClasses: config.numClasses, rng: &rng)
        case .resnet32: return ResNet.cifar(depth: 32, width: config.width, inputChannels: inputChannels, numClasses: config.numClasses, rng: &rng)
        case .resnet56: return ResNet.cifar(depth: 56, width: config.width, inputChannels: inputChannels, numClasses: config.numClasses, rng: &rng)
        case .resnet18:
            return ResNet.resnet18(inputChannels: inputChannels, numClasses: config.numClasses, smallInput: true, rng: &rng)
        case .resnet50:
            return ResNet.resnet50(inputChannels: inputChannels, numClasses: config.numClasses, smallInput: true, rng: &rng)
        case .mlp:
            return MLP.make(inputs: input.channels * input.height * input.width, hidden: config.mlpHidden,
                            outputs: config.numClasses, dropout: Float(config.dropout), rng: &rng)
        }
    }

    /// The ViT a `model:` section describes, checked: a patch or heads that do not fit are a
    /// `TrainingError` naming the key.
    public static func vitShape(_ config: TrainConfig.ModelSection, input: ImageShape) throws -> VisionTransformer.Shape {
        guard input.height == input.width else {
            throw TrainingError("the ViT takes square images; these are \(input.height)×\(input.width) — use a ResNet, or square images")
        }
        let imageSize = input.height
        guard imageSize % config.patchSize == 0 else {
            throw TrainingError("model.patch_size \(config.patchSize) does not divide the \(imageSize)×\(imageSize) images; use a divisor of \(imageSize) such as 4, 7 or 14")
        }
        guard config.dim % config.heads == 0 else {
            throw TrainingError("model.heads \(config.heads) does not divide model.dim \(config.dim); choose heads that divide the token width")
        }
        guard config.posEmbed == .learned || config.dim % 4 == 0 else {
            throw TrainingError("model.pos_embed sincos needs model.dim divisible by 4, got \(config.dim); use a multiple of 4 or pos_embed learned")
        }
        return .init(imageSize: imageSize, channels: input.channels, patch: config.patchSize, dim: config.dim, depth: config.depth,
                     heads: config.heads, mlpRatio: config.mlpRatio, classes: config.numClasses, pooling: config.pooling,
                     dropPath: config.dropPath, positions: config.posEmbed)
    }
}
