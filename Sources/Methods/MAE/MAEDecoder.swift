import Engine

/// MAE's light decoder (facebookresearch/mae `models_mae.py`): the encoder's tokens embedded
/// to the decoder's width, a learned `mask_token` in every place a patch was removed, the
/// fixed 2-D sin-cos position table, transformer blocks, LayerNorm and a linear prediction of
/// each patch's pixels. Names as the reference's: `decoder_embed`, `mask_token`,
/// `decoder_pos_embed` (a buffer), `decoder_blocks.{i}`, `decoder_norm`, `decoder_pred`.
public final class MAEDecoder: Module, BatchReducing {
    /// `decoder_embed`: encoder width → decoder width.
    public let embed: Linear
    /// [1, 1, decoder width]
    public let maskToken: Tensor
    /// [1, 1 + L, decoder width], fixed.
    public let posEmbed: Tensor
    /// `decoder_blocks.{i}`: pre-norm transformer blocks at the decoder's width.
    public let blocks: Sequential
    /// `decoder_norm`.
    public let norm: LayerNorm
    /// `decoder_pred`: each token's p²·C pixels.
    public let pred: Linear
    /// Training or evaluation mode (`Module.train(_:)` sets it here and in the blocks).
    public var isTraining = true
    /// Chunks the mask token's gradient sum over the batch.
    public var reduction = BatchReduction.singleProcess

    /// A decoder from encoder width `inputDim` for a `grid`×`grid` patch grid, `dim` wide,
    /// `depth` blocks of `heads` heads, predicting `outputs` values a patch (p²·C).
    public init(inputDim: Int, grid: Int, dim: Int, depth: Int, heads: Int, mlpRatio: Double, outputs: Int, eps: Float = 1e-6,
                rng: inout RandomGenerator) {
        embed = Linear(inputDim, dim, rng: &rng)
        maskToken = Tensor(uninitializedShape: [1, 1, dim], requiresGrad: true)
        rng.fillNormal(maskToken.data, count: dim, mean: 0, std: 0.02)
        posEmbed = Tensor.sinCosPositionTable(grid: grid, dim: dim)
        blocks = Sequential((0..<depth).map { _ in TransformerBlock(dim: dim, heads: heads, mlpRatio: mlpRatio, eps: eps, rng: &rng) })
        norm = LayerNorm(dim, eps: eps)
        pred = Linear(dim, outputs, rng: &rng)
    }

    public var localParameters: [(String, Tensor)] { [("mask_token", maskToken)] }
    public var localBuffers: [(String, Tensor)] { [("decoder_pos_embed", posEmbed)] }
    public var children: [(String, any Module)] {
        [("decoder_embed", embed), ("decoder_blocks", blocks), ("decoder_norm", norm), ("decoder_pred", pred)]
    }

    /// The patches' predictions [N, L, outputs] from the encoder's output [N, 1 + K, D]
    /// (the class token, then the kept patches): kept patch k of image n goes back to patch
    /// `kept[n·K + k]`, and the mask token fills the `removed` ones (M an image).
    public func decode(_ encoded: Tensor, kept: [Int], removed: [Int]) -> Tensor {
        let (n, k) = (encoded.shape[0], encoded.shape[1] - 1)
        let length = posEmbed.shape[1] - 1, m = length - k
        precondition(kept.count == n * k && removed.count == n * m, "MAEDecoder: \(kept.count) kept and \(removed.count) removed for \(n) × \(length) patches")
        // Places in the decoder's sequence of 1 + L: the class token stays first.
        let places = (0..<n).flatMap { i in [0] + kept[(i * k)..<((i + 1) * k)].map { $0 + 1 } }
        let x = embed(encoded)                                   // x: [N, 1 + K, Dd]
            .scatteringTokens(places, length: 1 + length)        // [N, 1 + L, Dd], zero where removed
            .addingToken(maskToken, at: removed.map { $0 + 1 }, perImage: m, reduction: reduction)
            .addingToEachImage(posEmbed, reduction: reduction)
        let out = pred(norm(blocks(x)))                          // out: [N, 1 + L, p²C]
        return out.gatheringTokens((0..<n).flatMap { _ in Array(1...length) }, perImage: length)   // without the class token
    }

    /// Decodes a sequence that kept every patch.
    public func forward(_ encoded: Tensor) -> Tensor {
        let (n, length) = (encoded.shape[0], encoded.shape[1] - 1)
        return decode(encoded, kept: (0..<n).flatMap { _ in Array(0..<length) }, removed: [])
    }
}
