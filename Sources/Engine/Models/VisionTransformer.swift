/// The Vision Transformer as timm's `VisionTransformer` builds it: patch embedding, a class
/// token, learned position embeddings, pre-norm blocks, a final LayerNorm and a linear head,
/// with timm's parameter names and initialisation, so its safetensors load into timm with
/// `load_state_dict` unchanged.
///
/// ```swift
/// let vit = VisionTransformer(.init(imageSize: 28, channels: 1, patch: 4, dim: 96, depth: 6,
///                                   heads: 4, mlpRatio: 2, classes: 10), rng: &rng)
/// let logits = vit(images)   // images: [N, 1, 28, 28] → logits: [N, 10]
/// ```
public final class VisionTransformer: Module, BatchReducing {
    /// How the head reads the sequence.
    public enum Pooling: String, Sendable, CaseIterable {
        /// The class token's output after `norm` (timm's `global_pool="token"`).
        case token
        /// The mean of the patch tokens, normalised by `fc_norm` (timm's `global_pool="avg"`).
        case mean
    }

    /// The position embedding.
    public enum Positions: String, Sendable, CaseIterable {
        /// A learned table, N(0, 0.02²) truncated (timm).
        case learned
        /// The fixed 2-D sine-cosine table, a buffer (`Tensor.sinCosPositionTable`), in MAE's layout
        /// (moco-v3's is its transpose: the same frequencies, the grid's axes swapped).
        case sincos
    }

    /// The architecture.
    public struct Shape: Equatable, Sendable {
        public var imageSize: Int
        public var channels: Int
        public var patch: Int
        public var dim: Int
        public var depth: Int
        public var heads: Int
        public var mlpRatio: Double
        /// Outputs of `head`; 0 for an encoder without one.
        public var classes: Int
        public var pooling: Pooling
        public var eps: Float
        /// timm's `drop_path_rate`: block i drops each residual branch with probability
        /// rate · i / (depth − 1).
        public var dropPath: Double
        public var positions: Positions

        public init(imageSize: Int, channels: Int, patch: Int, dim: Int, depth: Int, heads: Int, mlpRatio: Double,
                    classes: Int, pooling: Pooling = .token, eps: Float = 1e-6, dropPath: Double = 0,
                    positions: Positions = .learned) {
            self.imageSize = imageSize
            self.channels = channels
            self.patch = patch
            self.dim = dim
            self.depth = depth
            self.heads = heads
            self.mlpRatio = mlpRatio
            self.classes = classes
            self.pooling = pooling
            self.eps = eps
            self.dropPath = dropPath
            self.positions = positions
        }

        /// The drop-path probability of block `index` (timm's `linspace(0, rate, depth)`).
        public func dropPath(ofBlock index: Int) -> Float {
            depth > 1 ? Float(dropPath * Double(index) / Double(depth - 1)) : 0
        }

        /// Patches per image.
        public var tokens: Int { (imageSize / patch) * (imageSize / patch) }
    }

    public let shape: Shape
    public let patchEmbed: PatchEmbedding
    /// [1, 1, D]
    public let clsToken: Tensor
    /// [1, 1 + L, D]: a parameter, or a buffer when fixed (`Positions.sincos`).
    public let posEmbed: Tensor
    public let blocks: Sequential
    /// `norm` (token pooling) or `fc_norm` (mean pooling).
    public let norm: LayerNorm
    /// A linear classifier (`classes` > 0), a projection head a method gives (MoCo v3's MLP),
    /// or nothing.
    public let head: (any Module)?
    public var isTraining = true
    /// Chunks the batch sums of the class token's and position table's gradients.
    public var reduction = BatchReduction.singleProcess

    /// The network `shape` describes, with `head` in place of the linear classifier when
    /// given (built by the caller before, so its own initialisation is kept).
    public init(_ shape: Shape, head custom: (any Module)? = nil, rng: inout RandomGenerator) {
        precondition(shape.imageSize % shape.patch == 0, "VisionTransformer: patch \(shape.patch) does not divide image size \(shape.imageSize)")
        self.shape = shape
        let d = shape.dim
        patchEmbed = PatchEmbedding(channels: shape.channels, dim: d, patch: shape.patch, rng: &rng)
        Init.pytorchDefault(patchEmbed.proj, rng: &rng)
        clsToken = Tensor(uninitializedShape: [1, 1, d], requiresGrad: true)
        rng.fillNormal(clsToken.data, count: d, mean: 0, std: 1e-6)
        switch shape.positions {
        case .learned:
            posEmbed = Tensor(uninitializedShape: [1, 1 + shape.tokens, d], requiresGrad: true)
            Init.truncatedNormal(posEmbed, std: 0.02, rng: &rng)
        case .sincos:
            precondition(d % 4 == 0, "VisionTransformer: a sin-cos position table needs a width divisible by 4, got \(d)")
            posEmbed = Tensor.sinCosPositionTable(grid: shape.imageSize / shape.patch, dim: d)
        }
        // Drop-path seeds are read from the generator without advancing it: the weights do not
        // depend on the rate.
        let dropPathSeed = rng.s0 ^ rng.s2
        blocks = Sequential((0..<shape.depth).map { i in
            TransformerBlock(dim: d, heads: shape.heads, mlpRatio: shape.mlpRatio, eps: shape.eps,
                             dropPath: shape.dropPath(ofBlock: i), dropPathSeed: dropPathSeed &+ UInt64(i), rng: &rng)
        })
        norm = LayerNorm(d, eps: shape.eps)
        let classifier = custom == nil && shape.classes > 0 ? Linear(d, shape.classes, rng: &rng) : nil
        head = custom ?? classifier
        // timm's `init_weights_vit_timm`: every Linear N(0, 0.02²) truncated at ±2, bias 0
        // (a given head keeps its own).
        for linear in patchEmbed.layers(of: Linear.self) + blocks.layers(of: Linear.self) + (classifier.map { [$0] } ?? []) {
            Init.truncatedNormal(linear.weight, std: 0.02, rng: &rng)
            linear.bias?.fill(0)
        }
    }

    public var localParameters: [(String, Tensor)] {
        [("cls_token", clsToken)] + (shape.positions == .learned ? [("pos_embed", posEmbed)] : [])
    }

    public var localBuffers: [(String, Tensor)] { shape.positions == .sincos ? [("pos_embed", posEmbed)] : [] }

    public var children: [(String, any Module)] {
        [("patch_embed", patchEmbed), ("blocks", blocks), (shape.pooling == .token ? "norm" : "fc_norm", norm)]
            + (head.map { [("head", $0)] } ?? [])
    }

    /// The normalised token sequence: [N, C, H, W] → [N, 1 + L, D] (before pooling).
    public func tokens(_ images: Tensor) -> Tensor {
        let x = patchEmbed(images)   // x: [N, L, D]
            .prependingToken(clsToken, reduction: reduction)
            .addingToEachImage(posEmbed, reduction: reduction)
        return blocks(x)
    }

    /// One vector per image: [N, C, H, W] → [N, D].
    public func features(_ images: Tensor) -> Tensor {
        let x = tokens(images)
        switch shape.pooling {
        case .token: return norm(x).token(0)
        case .mean: return norm(x.meanOfTokens(from: 1))
        }
    }

    /// Logits [N, classes] (or the features when there is no head).
    public func forward(_ images: Tensor) -> Tensor {
        let f = features(images)
        return head.map { $0(f) } ?? f
    }
}
