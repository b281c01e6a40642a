import Engine

/// MoCo v3 (facebookresearch/moco-v3, `moco/builder.py`): a base encoder with a projection
/// MLP and a prediction MLP on top, trained by back-propagation; a momentum encoder (base and
/// projector) that follows it as an exponential moving average; a symmetric contrastive loss
/// whose negatives are the momentum keys of every rank's images — and its step, the one path
/// both training and the `moco_v3_step` golden case run.
///
/// One step, in the reference's order:
/// 1. q1 = predictor(base(x1)), q2 = predictor(base(x2)) (every batch norm sees view 1, then
///    view 2)
/// 2. without gradients: momentum ← m·momentum + (1 − m)·base (parameters only), k1 =
///    momentum(x1), k2 = momentum(x2)
/// 3. loss = ctr(q1, k2) + ctr(q2, k1), ctr(q, k) = CE(q̂ · k̂ᵀ / T, positives) · 2T over the
///    keys of every rank (`Tensor.contrastiveLoss`), image i's positive its own key.
///
/// Parameter names are the reference's: `base_encoder.…` (a ViT's projector is its `head`,
/// a ResNet's its `fc`), `momentum_encoder.…`, `predictor.…`.
public final class MoCoV3Model {
    /// The trunk and its projector, trained.
    public let baseEncoder: any FeatureEncoder
    /// The same architecture, an EMA of the base encoder; never receives gradients.
    public let momentumEncoder: any FeatureEncoder
    /// The prediction MLP on the base encoder's output, trained.
    public let predictor: Sequential
    /// Softmax temperature T.
    public let temperature: Float

    /// Wraps the three networks; the momentum encoder's parameters are made non-trainable.
    public init(base: any FeatureEncoder, momentum: any FeatureEncoder, predictor: Sequential, temperature: Float) {
        let b = base.namedParameters(), m = momentum.namedParameters()
        precondition(b.map(\.0) == m.map(\.0) && zip(b, m).allSatisfy { $0.1.shape == $1.1.shape },
                     "MoCoV3Model: the momentum encoder must have the base encoder's architecture")
        precondition(temperature > 0, "MoCoV3Model: temperature \(temperature)")
        self.baseEncoder = base
        self.momentumEncoder = momentum
        self.predictor = predictor
        self.temperature = temperature
        for (_, p) in m { p.requiresGrad = false }
    }

    /// moco-v3's ViT model: a ViT of `shape` (its `classes` ignored) whose head is the 3-layer
    /// projector D → `mlpDim` → `mlpDim` → `dim`, the 2-layer predictor `dim` → `mlpDim` → `dim`
    /// ending in a batch norm without affine; the momentum encoder starts as a copy.
    public static func vit(_ shape: VisionTransformer.Shape, mlpDim: Int, dim: Int, temperature: Float,
                           rng: inout RandomGenerator) -> MoCoV3Model {
        func encoder() -> VisionTransformer {
            let head = Sequential.projectionMLP(layers: 3, input: shape.dim, hidden: mlpDim, output: dim, rng: &rng)
            return VisionTransformer(shape, head: head, rng: &rng)
        }
        let base = encoder(), momentum = encoder()
        let predictor = Sequential.projectionMLP(layers: 2, input: dim, hidden: mlpDim, output: dim, rng: &rng)
        copy(base, into: momentum)
        return MoCoV3Model(base: base, momentum: momentum, predictor: predictor, temperature: temperature)
    }

    /// moco-v3's ResNet model on a CIFAR-style ResNet-(6n+2) of `width`: the 2-layer projector
    /// 4·width → `mlpDim` → `dim` as its `fc`, the 2-layer predictor ending without batch norm.
    public static func resnet(depth: Int, width: Int, inputChannels: Int = 1, mlpDim: Int, dim: Int, temperature: Float,
                              rng: inout RandomGenerator) -> MoCoV3Model {
        func encoder() -> ResNet {
            let head = Sequential.projectionMLP(layers: 2, input: 4 * width, hidden: mlpDim, output: dim, rng: &rng)
            return ResNet.cifar(depth: depth, width: width, inputChannels: inputChannels, head: head, rng: &rng)
        }
        let base = encoder(), momentum = encoder()
        let predictor = Sequential.projectionMLP(layers: 2, input: dim, hidden: mlpDim, output: dim, lastBatchNorm: false, rng: &rng)
        copy(base, into: momentum)
        return MoCoV3Model(base: base, momentum: momentum, predictor: predictor, temperature: temperature)
    }

    static func copy(_ source: any Module, into destination: any Module) {
        for ((_, dst), (_, src)) in zip(destination.namedParameters() + destination.namedBuffers(),
                                        source.namedParameters() + source.namedBuffers()) {
            dst.assign(src)
        }
    }

    /// The trained parameters with the reference's names.
    public var trainedParameters: [(String, Tensor)] {
        baseEncoder.namedParameters(prefix: "base_encoder.") + predictor.namedParameters(prefix: "predictor.")
    }

    /// momentum ← m·momentum + (1 − m)·base for every parameter.
    public func momentumUpdate(_ m: Float) {
        precondition((0...1).contains(m), "momentumUpdate: m \(m) outside [0, 1]")
        for ((_, k), (_, q)) in zip(momentumEncoder.namedParameters(), baseEncoder.namedParameters()) {
            let pk = k.data, pq = q.data
            for i in 0..<k.count { pk[i] = pk[i] * m + pq[i] * (1 - m) }
        }
    }

    /// What one forward pass gives.
    public struct Forward {
        /// ctr(q1, k2) + ctr(q2, k1), on the tape.
        public let loss: Tensor
        /// The logits of ctr(q1, k2) and of ctr(q2, k1), detached: [B, N·B].
        public let logits1: Tensor, logits2: Tensor
    }

    /// Steps 1–3 on the two views [B, C, H, W] with EMA momentum `m`. `gatherKeys` turns this
    /// rank's keys [B, dim] into every rank's in global position order [N·B, dim] (the
    /// identity in one process); this rank's image i is global position i·N + r.
    public func forward(_ x1: Tensor, _ x2: Tensor, momentum m: Float, rank: Int = 0, ranks: Int = 1,
                        gatherKeys: (Tensor) -> Tensor = { $0 }) -> Forward {
        precondition(x1.shape == x2.shape, "MoCo v3: view shapes \(x1.shape) and \(x2.shape)")
        // Step 2 reads only parameters step 1 does not change, so it runs first: the same
        // numbers, with the momentum encoder's scratch freed before the queries' activations
        // are kept.
        let (k1, k2) = Autograd.noGrad { () -> (Tensor, Tensor) in
            momentumUpdate(m)
            return (gatherKeys(momentumEncoder(x1).l2Normalized(dim: 1)), gatherKeys(momentumEncoder(x2).l2Normalized(dim: 1)))
        }   // k1, k2: [N·B, dim]
        let q1 = predictor(baseEncoder(x1)).l2Normalized(dim: 1)   // q1: [B, dim]
        let q2 = predictor(baseEncoder(x2)).l2Normalized(dim: 1)   // q2: [B, dim]
        let positives = (0..<x1.shape[0]).map { $0 * ranks + rank }
        let (l1, logits1) = q1.contrastiveLoss(keys: k2, targets: positives, temperature: temperature)
        let (l2, logits2) = q2.contrastiveLoss(keys: k1, targets: positives, temperature: temperature)
        return Forward(loss: l1 + l2, logits1: logits1, logits2: logits2)
    }
}
