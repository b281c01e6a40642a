/// The two residual blocks of torchvision's ResNet.
public protocol ResidualBlock: Module {}

/// conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU (torchvision `BasicBlock`).
public final class BasicBlock: ResidualBlock {
    public static let expansion = 1
    public let conv1: Conv2d, bn1: BatchNorm, conv2: Conv2d, bn2: BatchNorm
    /// 1×1 conv + BN projection when the shape changes (named `downsample.0/1`).
    public let downsample: Sequential?
    public var isTraining = true

    public init(_ inPlanes: Int, _ planes: Int, stride: Int, rng: inout RandomGenerator) {
        conv1 = Conv2d(inPlanes, planes, kernel: 3, stride: stride, padding: 1, rng: &rng)
        bn1 = BatchNorm(planes)
        conv2 = Conv2d(planes, planes, kernel: 3, padding: 1, rng: &rng)
        bn2 = BatchNorm(planes)
        downsample = (stride != 1 || inPlanes != planes)
            ? Sequential([Conv2d(inPlanes, planes, kernel: 1, stride: stride, rng: &rng), BatchNorm(planes)]) : nil
    }

    public var children: [(String, any Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (downsample.map { [("downsample", $0)] } ?? [])
    }

    public func forward(_ x: Tensor) -> Tensor {
        let h = bn1.forward(conv1(x), relu: true)
        return bn2.forward(conv2(h), residual: downsample?(x) ?? x, relu: true)
    }
}

/// 1×1 → 3×3 (stride) → 1×1 ×4 with BN and ReLU (torchvision `Bottleneck`, stride on the 3×3).
public final class Bottleneck: ResidualBlock {
    public static let expansion = 4
    public let conv1: Conv2d, bn1: BatchNorm, conv2: Conv2d, bn2: BatchNorm, conv3: Conv2d, bn3: BatchNorm
    public let downsample: Sequential?
    public var isTraining = true

    public init(_ inPlanes: Int, _ planes: Int, stride: Int, rng: inout RandomGenerator) {
        let out = planes * Bottleneck.expansion
        conv1 = Conv2d(inPlanes, planes, kernel: 1, rng: &rng)
        bn1 = BatchNorm(planes)
        conv2 = Conv2d(planes, planes, kernel: 3, stride: stride, padding: 1, rng: &rng)
        bn2 = BatchNorm(planes)
        conv3 = Conv2d(planes, out, kernel: 1, rng: &rng)
        bn3 = BatchNorm(out)
        downsample = (stride != 1 || inPlanes != out)
            ? Sequential([Conv2d(inPlanes, out, kernel: 1, stride: stride, rng: &rng), BatchNorm(out)]) : nil
    }

    public var children: [(String, any Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("conv3", conv3), ("bn3", bn3)]
            + (downsample.map { [("downsample", $0)] } ?? [])
    }

    public func forward(_ x: Tensor) -> Tensor {
        let h = bn2.forward(conv2(bn1.forward(conv1(x), relu: true)), relu: true)
        return bn3.forward(conv3(h), residual: downsample?(x) ?? x, relu: true)
    }
}

/// Residual networks with torchvision's parameter names: `conv1`, `bn1`, `layer{i}.{j}.…`, `fc`.
///
/// - `ResNet.cifar(depth:)`: ResNet-(6n+2) for small images (3×3 stem, stages 16/32/64,
///   stride 2 at the first block of stages 2 and 3), e.g. ResNet-20/32/56 on 1×28×28.
/// - `ResNet.resnet18` / `resnet50`: the ImageNet layouts (stages 64…512, BasicBlock ×[2,2,2,2]
///   or Bottleneck ×[3,4,6,3]); `smallInput: true` swaps the 7×7/2 stem and max-pool for a
///   3×3/1 stem so 28×28 images keep enough resolution.
public final class ResNet: Module {
    public let conv1: Conv2d
    public let bn1: BatchNorm
    public let maxPool: Bool
    public let layers: [Sequential]
    /// The classifier; a MoCo encoder replaces it with a projection head.
    public let fc: any Module
    public let featureDim: Int
    public var isTraining = true

    init(conv1: Conv2d, maxPool: Bool, layers: [Sequential], featureDim: Int, head: any Module) {
        self.conv1 = conv1
        self.bn1 = BatchNorm(conv1.weight.shape[0])
        self.maxPool = maxPool
        self.layers = layers
        self.featureDim = featureDim
        self.fc = head
    }

    public var children: [(String, any Module)] {
        [("conv1", conv1), ("bn1", bn1)] + layers.enumerated().map { ("layer\($0.offset + 1)", $0.element) } + [("fc", fc)]
    }

    /// The pooled trunk features [N, featureDim] (everything but `fc`).
    public func features(_ x: Tensor) -> Tensor {
        var h = bn1.forward(conv1(x), relu: true)
        if maxPool { h = h.maxPool2d(kernel: 3, stride: 2, padding: 1) }
        for layer in layers { h = layer(h) }
        return h.globalAvgPool2d()
    }

    public func forward(_ x: Tensor) -> Tensor { fc(features(x)) }

    /// CIFAR-style ResNet-(6n+2) whose three stages have `width`, 2·`width` and 4·`width`
    /// channels (16 is the original network; its features are 4·`width` wide); `head` defaults
    /// to Linear(4·width → numClasses).
    ///
    ///     let wide = ResNet.cifar(depth: 20, width: 32, rng: &rng)   // 128 features
    public static func cifar(depth: Int, width: Int = 16, inputChannels: Int = 1, numClasses: Int = 10,
                             head: (any Module)? = nil, rng: inout RandomGenerator) -> ResNet {
        precondition(depth >= 8 && (depth - 2) % 6 == 0, "CIFAR ResNet depth must be 6n+2, got \(depth)")
        precondition(width >= 1, "CIFAR ResNet width must be positive, got \(width)")
        let n = (depth - 2) / 6
        let stem = Conv2d(inputChannels, width, kernel: 3, padding: 1, rng: &rng)
        var inPlanes = width
        var stages: [Sequential] = []
        for (i, planes) in [width, 2 * width, 4 * width].enumerated() {
            var blocks: [any Module] = []
            for j in 0..<n {
                blocks.append(BasicBlock(inPlanes, planes, stride: (i > 0 && j == 0) ? 2 : 1, rng: &rng))
                inPlanes = planes
            }
            stages.append(Sequential(blocks))
        }
        let fc = head ?? Linear(4 * width, numClasses, rng: &rng)
        return ResNet(conv1: stem, maxPool: false, layers: stages, featureDim: 4 * width, head: fc)
    }

    /// ResNet-18 (BasicBlock ×[2,2,2,2]).
    public static func resnet18(inputChannels: Int = 3, numClasses: Int = 1000, smallInput: Bool = false,
                                rng: inout RandomGenerator) -> ResNet {
        imagenet(blocks: [2, 2, 2, 2], bottleneck: false, inputChannels: inputChannels,
                 numClasses: numClasses, smallInput: smallInput, rng: &rng)
    }

    /// ResNet-50 (Bottleneck ×[3,4,6,3]).
    public static func resnet50(inputChannels: Int = 3, numClasses: Int = 1000, smallInput: Bool = false,
                                rng: inout RandomGenerator) -> ResNet {
        imagenet(blocks: [3, 4, 6, 3], bottleneck: true, inputChannels: inputChannels,
                 numClasses: numClasses, smallInput: smallInput, rng: &rng)
    }

    static func imagenet(blocks: [Int], bottleneck: Bool, inputChannels: Int, numClasses: Int,
                         smallInput: Bool, rng: inout RandomGenerator) -> ResNet {
        let stem = smallInput
            ? Conv2d(inputChannels, 64, kernel: 3, stride: 1, padding: 1, rng: &rng)
            : Conv2d(inputChannels, 64, kernel: 7, stride: 2, padding: 3, rng: &rng)
        let expansion = bottleneck ? Bottleneck.expansion : BasicBlock.expansion
        var inPlanes = 64
        var stages: [Sequential] = []
        for (i, planes) in [64, 128, 256, 512].enumerated() {
            var layer: [any Module] = []
            for j in 0..<blocks[i] {
                let stride = (i > 0 && j == 0) ? 2 : 1
                layer.append(bottleneck ? Bottleneck(inPlanes, planes, stride: stride, rng: &rng)
                                        : BasicBlock(inPlanes, planes, stride: stride, rng: &rng))
                inPlanes = planes * expansion
            }
            stages.append(Sequential(layer))
        }
        let fc = Linear(inPlanes, numClasses, rng: &rng)
        return ResNet(conv1: stem, maxPool: !smallInput, layers: stages, featureDim: inPlanes, head: fc)
    }
}
