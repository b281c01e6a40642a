import Config
import Engine

/// Builds the network a config's `model:` section names.
public enum ModelFactory {
    /// A freshly initialised model for 1×28×28 inputs.
    public static func make(_ config: TrainConfig.ModelSection, inputChannels: Int = 1, imageSize: Int = 28,
                            rng: inout RandomGenerator) -> any Module {
        switch config.name {
        case .resnet20: return ResNet.cifar(depth: 20, width: config.width, inputChannels: inputChannels, numClasses: config.numClasses, rng: &rng)
        case .resnet32: return ResNet.cifar(depth: 32, width: config.width, inputChannels: inputChannels, numClasses: config.numClasses, rng: &rng)
        case .resnet56: return ResNet.cifar(depth: 56, width: config.width, inputChannels: inputChannels, numClasses: config.numClasses, rng: &rng)
        case .resnet18:
            return ResNet.resnet18(inputChannels: inputChannels, numClasses: config.numClasses, smallInput: true, rng: &rng)
        case .resnet50:
            return ResNet.resnet50(inputChannels: inputChannels, numClasses: config.numClasses, smallInput: true, rng: &rng)
        case .mlp:
            return MLP.make(inputs: inputChannels * imageSize * imageSize, hidden: config.mlpHidden,
                            outputs: config.numClasses, dropout: Float(config.dropout), rng: &rng)
        }
    }
}
