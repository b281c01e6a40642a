import Foundation

/// Fully connected layer: y = x Wᵀ + b, weight [out, in] (Xavier-uniform), bias zero.
public final class Linear: Module, BatchReducing {
    public let weight: Tensor
    public let bias: Tensor?
    public var isTraining = true
    public var reduction = BatchReduction.singleProcess

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) {
        weight = Tensor(uninitializedShape: [outFeatures, inFeatures], requiresGrad: true)
        Init.xavierUniform(weight, rng: &rng)
        self.bias = bias ? Tensor.zeros([outFeatures], requiresGrad: true) : nil
    }

    /// Around given tensors: weight [O, I], bias [O].
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2 && (bias == nil || bias!.shape == [weight.shape[0]]),
                     "Linear: weight \(weight.shape), bias \(bias?.shape ?? [])")
        self.weight = weight
        self.bias = bias
    }

    public var localParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// x [N, I] → [N, O]; x [N, …, I] (tokens) → [N, …, O], each image's rows summed together.
    public func forward(_ x: Tensor) -> Tensor {
        guard x.rank > 2 else { return x.linear(weight: weight, bias: bias, reduction: reduction) }
        let rows = x.count / x.shape[x.rank - 1]
        let y = x.reshaped([rows, x.shape[x.rank - 1]])
            .linear(weight: weight, bias: bias, reduction: reduction, rowsPerImage: rows / x.shape[0])
        return y.reshaped(Array(x.shape.dropLast()) + [weight.shape[0]])
    }
}

/// 2-d convolution, weight [out, in, k, k] (Kaiming-normal, fan-out, ReLU gain).
public final class Conv2d: Module, BatchReducing {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    public var isTraining = true
    public var reduction = BatchReduction.singleProcess

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = false, rng: inout RandomGenerator) {
        weight = Tensor(uninitializedShape: [outChannels, inChannels, kernel, kernel], requiresGrad: true)
        Init.kaimingNormalFanOut(weight, rng: &rng)
        self.bias = bias ? Tensor.zeros([outChannels], requiresGrad: true) : nil
        self.stride = stride
        self.padding = padding
    }

    public var localParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
    public func forward(_ x: Tensor) -> Tensor { x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, reduction: reduction) }
}

/// Batch normalisation over channels of [N,C] or [N,C,H,W]; weight 1, bias 0, running
/// statistics (0, 1), PyTorch's momentum convention. Without `affine` (PyTorch's
/// `affine=False`) it has no weight and bias, only the running statistics.
public final class BatchNorm: Module, BatchReducing {
    public let weight: Tensor?
    public let bias: Tensor?
    public let runningMean: Tensor
    public let runningVar: Tensor
    public var momentum: Float
    public var eps: Float
    public var isTraining = true
    /// When set, training statistics span every replica's batch (SyncBatchNorm).
    public var crossReplica: (any CrossReplicaSum)?
    public var reduction = BatchReduction.singleProcess

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5, affine: Bool = true) {
        weight = affine ? Tensor.ones([channels], requiresGrad: true) : nil
        bias = affine ? Tensor.zeros([channels], requiresGrad: true) : nil
        runningMean = Tensor.zeros([channels])
        runningVar = Tensor.ones([channels])
        self.momentum = momentum
        self.eps = eps
    }

    public var localParameters: [(String, Tensor)] {
        guard let weight, let bias else { return [] }
        return [("weight", weight), ("bias", bias)]
    }
    public var localBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    public func forward(_ x: Tensor) -> Tensor { forward(x, relu: false) }

    /// Normalisation, plus `residual` and a ReLU fused in when given (`relu(bn(x) + residual)`).
    public func forward(_ x: Tensor, residual: Tensor? = nil, relu: Bool) -> Tensor {
        x.batchNorm(weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                    training: isTraining, momentum: momentum, eps: eps, residual: residual, relu: relu,
                    crossReplica: crossReplica, reduction: reduction)
    }
}

/// Layer normalisation over the last dimension.
public final class LayerNorm: Module, BatchReducing {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float
    public var isTraining = true
    public var reduction = BatchReduction.singleProcess

    public init(_ features: Int, eps: Float = 1e-5) {
        weight = Tensor.ones([features], requiresGrad: true)
        bias = Tensor.zeros([features], requiresGrad: true)
        self.eps = eps
    }

    public var localParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public func forward(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps, reduction: reduction) }
}

/// max(x, 0) as a module (for `Sequential`).
public final class ReLU: Module {
    public var isTraining = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.relu() }
}

/// [N, ...] → [N, rest].
public final class Flatten: Module {
    public var isTraining = true
    public init() {}
    public func forward(_ x: Tensor) -> Tensor { x.flattened() }
}

/// A layer that draws from its own random stream in training; checkpoints save the stream
/// so a resumed run draws what the uninterrupted one would.
public protocol RandomStreamLayer: AnyObject {
    var rng: RandomGenerator { get set }
}

/// Inverted dropout with its own random stream (saved with the run's RNG state).
public final class Dropout: Module, RandomStreamLayer {
    public let p: Float
    public var rng: RandomGenerator
    public var isTraining = true
    public init(p: Float, seed: UInt64) { self.p = p; rng = RandomGenerator(seed: seed) }
    public func forward(_ x: Tensor) -> Tensor { x.dropout(p: p, training: isTraining, rng: &rng) }
}

/// Runs its children in order; children are named "0", "1", … as in PyTorch.
public final class Sequential: Module {
    public let layers: [any Module]
    public var isTraining = true
    public init(_ layers: [any Module]) { self.layers = layers }
    public var children: [(String, any Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }
    public func forward(_ x: Tensor) -> Tensor { layers.reduce(x) { $1.forward($0) } }
}

/// Weight initialisation schemes.
public enum Init {
    /// N(0, 2 / fan_out) with fan_out = out_channels · k·k (PyTorch `kaiming_normal_(mode="fan_out")`).
    public static func kaimingNormalFanOut(_ w: Tensor, rng: inout RandomGenerator) {
        let fanOut = w.shape[0] * w.shape.dropFirst(2).reduce(1, *)
        rng.fillNormal(w.data, count: w.count, mean: 0, std: (2 / Float(fanOut)).squareRoot())
    }

    /// N(0, std²) truncated to [−2, 2] (timm's `trunc_normal_(std=…)`, whose bounds are absolute).
    public static func truncatedNormal(_ w: Tensor, std: Float, rng: inout RandomGenerator) {
        rng.fillNormal(w.data, count: w.count, mean: 0, std: std)
        for i in 0..<w.count where abs(w.data[i]) > 2 {
            repeat { rng.fillNormal(w.data + i, count: 1, mean: 0, std: std) } while abs(w.data[i]) > 2
        }
    }

    /// PyTorch's default for a convolution: weight and bias U(−1/√fan_in, 1/√fan_in)
    /// (`kaiming_uniform_(a=√5)`).
    public static func pytorchDefault(_ conv: Conv2d, rng: inout RandomGenerator) {
        let bound = 1 / Float(conv.weight.count / conv.weight.shape[0]).squareRoot()
        rng.fillUniform(conv.weight.data, count: conv.weight.count, low: -bound, high: bound)
        if let b = conv.bias { rng.fillUniform(b.data, count: b.count, low: -bound, high: bound) }
    }

    /// U(−a, a) with a = √(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ w: Tensor, rng: inout RandomGenerator) {
        let receptive = w.shape.dropFirst(2).reduce(1, *)
        let fanIn = w.shape[1] * receptive, fanOut = w.shape[0] * receptive
        let a = (6 / Float(fanIn + fanOut)).squareRoot()
        rng.fillUniform(w.data, count: w.count, low: -a, high: a)
    }
}
