/// The pieces of a pre-norm transformer, named as timm names them (`attn.qkv`, `attn.proj`,
/// `mlp.fc1`, `mlp.fc2`, `norm1`, `norm2`, `patch_embed.proj`) so state dicts move unchanged.

/// Multi-head self-attention on [N, L, D] with one fused `qkv` projection (timm's `Attention`).
public final class MultiHeadAttention: Module {
    public let qkv: Linear
    public let proj: Linear
    public let heads: Int
    public var isTraining = true

    public init(dim: Int, heads: Int, rng: inout RandomGenerator) {
        precondition(heads >= 1 && dim % heads == 0, "MultiHeadAttention: dim \(dim) does not split into \(heads) heads")
        qkv = Linear(dim, 3 * dim, rng: &rng)
        proj = Linear(dim, dim, rng: &rng)
        self.heads = heads
    }

    /// Around given projections (qkv: D → 3D, proj: D → D).
    public init(qkv: Linear, proj: Linear, heads: Int) {
        let dim = proj.weight.shape[0]
        precondition(qkv.weight.shape == [3 * dim, dim] && dim % heads == 0,
                     "MultiHeadAttention: qkv \(qkv.weight.shape) and proj \(proj.weight.shape) for \(heads) heads")
        self.qkv = qkv
        self.proj = proj
        self.heads = heads
    }

    public var children: [(String, any Module)] { [("qkv", qkv), ("proj", proj)] }

    /// x: [N, L, D] → [N, L, D].
    public func forward(_ x: Tensor) -> Tensor {
        proj(Tensor.multiHeadSelfAttention(packed: qkv(x), heads: heads))   // qkv(x): [N, L, 3D]
    }
}

/// The block's feed-forward network: fc2(GELU(fc1(x))) (timm's `Mlp`).
public final class TransformerMLP: Module {
    public let fc1: Linear
    public let fc2: Linear
    public var isTraining = true

    public init(dim: Int, hidden: Int, rng: inout RandomGenerator) {
        fc1 = Linear(dim, hidden, rng: &rng)
        fc2 = Linear(hidden, dim, rng: &rng)
    }

    public var children: [(String, any Module)] { [("fc1", fc1), ("fc2", fc2)] }

    /// x: [N, L, D] → [N, L, D] as one op (`Tensor.tokenMLP`, which keeps less for backward);
    /// [N, D] through the three layers.
    public func forward(_ x: Tensor) -> Tensor {
        guard x.rank > 2 else { return fc2(fc1(x).gelu()) }
        let d = x.shape[x.rank - 1], rows = x.count / d
        return x.reshaped([rows, d])
            .tokenMLP(fc1: fc1.weight, fc1.bias, fc2: fc2.weight, fc2.bias, rowsPerImage: rows / x.shape[0], reduction: fc1.reduction)
            .reshaped(Array(x.shape.dropLast()) + [fc2.weight.shape[0]])
    }
}

/// x + attn(norm1(x)), then x + mlp(norm2(x)).
public final class TransformerBlock: Module {
    public let norm1: LayerNorm
    public let attn: MultiHeadAttention
    public let norm2: LayerNorm
    public let mlp: TransformerMLP
    /// Stochastic depth on each residual branch; nil when its rate is 0 (timm's `Identity`).
    public let dropPath1: DropPath?
    public let dropPath2: DropPath?
    public var isTraining = true

    /// `dropPath` is the probability of dropping each residual branch of an image; the layers'
    /// streams are seeded from `dropPathSeed`.
    public init(dim: Int, heads: Int, mlpRatio: Double, eps: Float, dropPath: Float = 0, dropPathSeed: UInt64 = 0,
                rng: inout RandomGenerator) {
        norm1 = LayerNorm(dim, eps: eps)
        attn = MultiHeadAttention(dim: dim, heads: heads, rng: &rng)
        norm2 = LayerNorm(dim, eps: eps)
        mlp = TransformerMLP(dim: dim, hidden: Int(Double(dim) * mlpRatio), rng: &rng)
        dropPath1 = dropPath > 0 ? DropPath(p: dropPath, seed: dropPathSeed &* 2 &+ 1) : nil
        dropPath2 = dropPath > 0 ? DropPath(p: dropPath, seed: dropPathSeed &* 2 &+ 2) : nil
    }

    public var children: [(String, any Module)] {
        [("norm1", norm1), ("attn", attn)] + (dropPath1.map { [("drop_path1", $0)] } ?? [])
            + [("norm2", norm2), ("mlp", mlp)] + (dropPath2.map { [("drop_path2", $0)] } ?? [])
    }

    /// x: [N, L, D] → [N, L, D].
    public func forward(_ x: Tensor) -> Tensor {
        let a = attn(norm1(x))
        let h = x + (dropPath1.map { $0(a) } ?? a)
        let m = mlp(norm2(h))
        return h + (dropPath2.map { $0(m) } ?? m)
    }
}

/// Non-overlapping p×p patches of an image, each projected to D: a convolution with
/// kernel = stride = p, its grid read as tokens. [N, C, H, W] → [N, (H/p)·(W/p), D].
public final class PatchEmbedding: Module {
    public let proj: Conv2d
    public let patch: Int
    public var isTraining = true

    public init(channels: Int, dim: Int, patch: Int, rng: inout RandomGenerator) {
        proj = Conv2d(channels, dim, kernel: patch, stride: patch, bias: true, rng: &rng)
        self.patch = patch
    }

    public var children: [(String, any Module)] { [("proj", proj)] }
    public func forward(_ x: Tensor) -> Tensor { proj(x).tokensFromGrid() }
}
