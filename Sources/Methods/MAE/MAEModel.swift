import Engine

/// MAE (facebookresearch/mae, `models_mae.py` `MaskedAutoencoderViT`): per-image random
/// masking, the ViT encoder on the kept patches only, the light decoder (`MAEDecoder`), and
/// the mean squared error on the removed patches' pixels (normalised per patch with
/// `normPixLoss`) — and its step, the one path both training and the `mae_step` golden case
/// run.
///
/// The masking is the reference's `random_masking`: each image's patches are ordered by a
/// noise value drawn for it (ascending), the first `keep` are kept in that order. Training
/// draws the noise of an image from its global position in the batch and the iteration
/// (`noise(seed:key:indices:tokens:)`), so N ranks mask exactly what one process would, and a
/// resumed run what the uninterrupted one did — a pure function, nothing to save.
///
/// Parameter names are the reference's: the encoder's timm names (`patch_embed.proj`,
/// `cls_token`, `blocks.{i}`, `norm`; `pos_embed` a fixed buffer) and the decoder's.
public final class MAEModel {
    /// The ViT encoder (no head), run on the kept patches only.
    public let encoder: VisionTransformer
    /// The light decoder over every patch position.
    public let decoder: MAEDecoder
    /// Patches each image keeps: int(L · (1 − mask ratio)).
    public let keep: Int
    /// Whether the loss compares with each patch standardised (MAE's `norm_pix_loss`).
    public let normPixLoss: Bool

    /// Puts the parts together; `keep` between 1 and the encoder's patch count.
    public init(encoder: VisionTransformer, decoder: MAEDecoder, keep: Int, normPixLoss: Bool) {
        precondition(encoder.head == nil && (1...encoder.shape.tokens).contains(keep), "MAEModel: an encoder without head, keeping 1…L patches")
        self.encoder = encoder
        self.decoder = decoder
        self.keep = keep
        self.normPixLoss = normPixLoss
    }

    /// MAE for `shape` (its `classes` ignored; the encoder's position table should be
    /// `.sincos`, as MAE's), with a decoder `decoderDim` wide of `decoderDepth` blocks of
    /// `decoderHeads` heads, masking `maskRatio` of the patches. MAE's initialisation: every
    /// Linear Xavier-uniform with zero bias, the patch projection Xavier-uniform as a matrix,
    /// the class and mask tokens N(0, 0.02²).
    public static func make(_ shape: VisionTransformer.Shape, decoderDim: Int, decoderDepth: Int, decoderHeads: Int,
                            maskRatio: Double, normPixLoss: Bool, rng: inout RandomGenerator) -> MAEModel {
        var encoderShape = shape
        encoderShape.classes = 0
        let encoder = VisionTransformer(encoderShape, rng: &rng)
        let decoder = MAEDecoder(inputDim: shape.dim, grid: shape.imageSize / shape.patch, dim: decoderDim, depth: decoderDepth,
                                 heads: decoderHeads, mlpRatio: shape.mlpRatio, outputs: shape.patch * shape.patch * shape.channels,
                                 eps: shape.eps, rng: &rng)
        for linear in encoder.layers(of: Linear.self) + decoder.layers(of: Linear.self) {
            Init.xavierUniform(linear.weight, rng: &rng)
            linear.bias?.fill(0)
        }
        let proj = encoder.patchEmbed.proj.weight
        let (fanOut, fanIn) = (proj.shape[0], proj.count / proj.shape[0])
        let bound = (6 / Float(fanIn + fanOut)).squareRoot()
        rng.fillUniform(proj.data, count: proj.count, low: -bound, high: bound)
        rng.fillNormal(encoder.clsToken.data, count: encoder.clsToken.count, mean: 0, std: 0.02)
        let keep = Int(Double(encoder.shape.tokens) * (1 - maskRatio))
        return MAEModel(encoder: encoder, decoder: decoder, keep: max(1, keep), normPixLoss: normPixLoss)
    }

    /// Every trained parameter, the reference's names.
    public var namedParameters: [(String, Tensor)] { encoder.namedParameters() + decoder.namedParameters() }
    /// The two position tables.
    public var namedBuffers: [(String, Tensor)] { encoder.namedBuffers() + decoder.namedBuffers() }

    /// What one forward pass gives.
    public struct Forward {
        /// The masked loss, on the tape.
        public let loss: Tensor
        /// Every patch's prediction [N, L, p²·C], detached (normalised per patch with norm_pix_loss).
        public let prediction: Tensor
        /// [N, L]: 1 where the patch was removed.
        public let mask: Tensor
    }

    /// The masking of `random_masking` for noise [N·L]: each image's kept patches (in noise
    /// order) and removed ones.
    public func masking(_ noise: [Float], images n: Int) -> (kept: [Int], removed: [Int]) {
        let l = encoder.shape.tokens
        precondition(noise.count == n * l, "MAE masking: \(noise.count) noise values for \(n) × \(l) patches")
        var kept: [Int] = [], removed: [Int] = []
        kept.reserveCapacity(n * keep)
        for i in 0..<n {
            let order = (0..<l).sorted { (noise[i * l + $0], $0) < (noise[i * l + $1], $1) }
            kept += order[..<keep]
            removed += order[keep...]
        }
        return (kept, removed)
    }

    /// The step's forward pass on images [N, C, H, W] with noise [N·L] (`noise(…)` in training).
    public func forward(_ images: Tensor, noise: [Float]) -> Forward {
        let n = images.shape[0], l = encoder.shape.tokens
        let (kept, removed) = masking(noise, images: n)
        let visible = (0..<n).flatMap { i in [0] + kept[(i * keep)..<((i + 1) * keep)].map { $0 + 1 } }
        var x = encoder.patchEmbed(images)                      // x: [N, L, D]
            .prependingToken(encoder.clsToken, reduction: encoder.reduction)
            .addingToEachImage(encoder.posEmbed, reduction: encoder.reduction)
            .gatheringTokens(visible, perImage: 1 + keep)        // [N, 1 + K, D]: the class token and the kept patches
        x = encoder.norm(encoder.blocks(x))
        let prediction = decoder.decode(x, kept: kept, removed: removed)   // prediction: [N, L, p²C]
        let mask = Tensor.zeros([n, l])                          // mask: [N, L]
        for i in 0..<n { for r in removed[(i * (l - keep))..<((i + 1) * (l - keep))] { mask.data[i * l + r] = 1 } }
        let target = images.patchified(patch: encoder.shape.patch)
        let loss = prediction.maskedMSE(target: target, mask: mask, normPixels: normPixLoss)
        return Forward(loss: loss, prediction: prediction.detached(), mask: mask)
    }

    /// Masking noise [N·L]: image i gets L uniform values from the stream of (`seed`, `key`,
    /// `indices[i]`). Training keys the iteration and indexes global batch positions; the
    /// evaluation keys a constant and indexes test images.
    public static func noise(seed: UInt64, key: UInt64, indices: [Int], tokens l: Int) -> [Float] {
        var out = [Float](repeating: 0, count: indices.count * l)
        for (i, index) in indices.enumerated() {
            var rng = RandomGenerator(seed: seed ^ (key &* 0x9E37_79B9_7F4A_7C15), purpose: .masking, index: UInt64(index))
            for t in 0..<l { out[i * l + t] = rng.uniform() }
        }
        return out
    }
}
