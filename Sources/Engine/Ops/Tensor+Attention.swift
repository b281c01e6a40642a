import EngineKernels

/// Scaled dot-product attention, and multi-head self-attention on a packed `qkv` tensor.
///
/// Every head is a pair of products (`TokenGemm`) reading its q, k, v rows through a leading
/// dimension, so timm's split `reshape(N, L, 3, H, D/H).permute(2, 0, 3, 1, 4)` and the
/// merge back to [N, L, D] never copy a whole tensor; each product packs only its small B.
extension Tensor {
    /// softmax(q kᵀ · scale) v over the last dimension: q [B,H,Lq,dh], k and v [B,H,Lk,dh] →
    /// [B,H,Lq,dh]; `scale` defaults to 1/√dh (PyTorch's `F.scaled_dot_product_attention`).
    public static func scaledDotProductAttention(query q: Tensor, key k: Tensor, value v: Tensor, scale: Float? = nil) -> Tensor {
        precondition(q.rank == 4 && k.rank == 4 && v.rank == 4 && k.shape == v.shape
                     && q.shape[0] == k.shape[0] && q.shape[1] == k.shape[1] && q.shape[3] == k.shape[3],
                     "scaledDotProductAttention: q \(q.shape), k \(k.shape), v \(v.shape)")
        let (b, h, lq, dh, lk) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3], k.shape[2])
        let geometry = AttentionGeometry(batch: b, heads: h, queries: lq, keys: lk, headDim: dh,
                                         scale: scale ?? 1 / Float(dh).squareRoot())
        let y = Tensor(uninitializedShape: [b, h, lq, dh])
        let query = HeadMatrix(rows: lq, dim: dh, heads: h), key = HeadMatrix(rows: lk, dim: dh, heads: h)
        let probs = geometry.forward(q: (q.data, query), k: (k.data, key), v: (v.data, key), out: (y.data, query))
        Autograd.record(y, inputs: [q, k, v]) { g in
            geometry.backward(probs: probs, gradOut: (g.data, query),
                              q: (q, query), k: (k, key), v: (v, key))
        }
        return y
    }

    /// timm's multi-head self-attention core: `qkv` [N, L, 3D] holds q, k, v side by side
    /// (head h is columns h·D/H…(h+1)·D/H − 1 of each third) → [N, L, D], heads merged,
    /// scale (D/H)^−½.
    public static func multiHeadSelfAttention(packed qkv: Tensor, heads: Int) -> Tensor {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                     "multiHeadSelfAttention: qkv \(qkv.shape) does not split into q, k, v of \(heads) heads")
        let (n, l, d) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
        let dh = d / heads
        let geometry = AttentionGeometry(batch: n, heads: heads, queries: l, keys: l, headDim: dh,
                                         scale: 1 / Float(dh).squareRoot())
        let y = Tensor(uninitializedShape: [n, l, d])
        let packed = HeadMatrix(packedRows: l, width: 3 * d, headDim: dh), merged = HeadMatrix(packedRows: l, width: d, headDim: dh)
        let p = qkv.data
        let probs = geometry.forward(q: (p, packed), k: (p + d, packed), v: (p + 2 * d, packed), out: (y.data, merged))
        Autograd.record(y, inputs: [qkv]) { g in
            geometry.backward(probs: probs, gradOut: (g.data, merged),
                              q: (qkv, packed), k: (qkv, packed.shifted(by: d)), v: (qkv, packed.shifted(by: 2 * d)))
        }
        return y
    }
}

/// Where the matrix of (batch b, head h) starts and how far apart its rows are.
struct HeadMatrix {
    var offset = 0
    let batchStride: Int
    let headStride: Int
    let rowStride: Int

    /// A contiguous [B, H, rows, dim] tensor.
    init(rows: Int, dim: Int, heads: Int) {
        batchStride = heads * rows * dim
        headStride = rows * dim
        rowStride = dim
    }

    /// Heads side by side in rows of `width` floats: [B, rows, width], head h at column h·headDim.
    init(packedRows rows: Int, width: Int, headDim: Int) {
        batchStride = rows * width
        headStride = headDim
        rowStride = width
    }

    /// The same layout starting `columns` floats later (k and v in a packed qkv).
    func shifted(by columns: Int) -> HeadMatrix { var m = self; m.offset += columns; return m }

    func start(_ b: Int, _ h: Int) -> Int { offset + b * batchStride + h * headStride }
}

/// The sizes of one attention call and its per-head forward and backward passes.
struct AttentionGeometry {
    let batch, heads, queries, keys, headDim: Int
    let scale: Float

    /// Runs every head; returns the attention probabilities [B, H, Lq, Lk] backward needs.
    func forward(q: (UnsafeMutablePointer<Float>, HeadMatrix), k: (UnsafeMutablePointer<Float>, HeadMatrix),
                 v: (UnsafeMutablePointer<Float>, HeadMatrix), out: (UnsafeMutablePointer<Float>, HeadMatrix)) -> Tensor {
        let probs = Tensor(uninitializedShape: [batch, heads, queries, keys])   // probs: [B, H, Lq, Lk]
        for b in 0..<batch {
            for h in 0..<heads {
                let p = probs.data + (b * heads + h) * queries * keys
                // scores[Lq, Lk] = scale · q[Lq, dh] · k[Lk, dh]ᵀ, then softmax per row in place
                let kt = TokenGemm.Panels(transposing: k.0 + k.1.start(b, h), rows: keys, columns: headDim, ld: k.1.rowStride)
                TokenGemm.multiply(m: queries, a: q.0 + q.1.start(b, h), lda: q.1.rowStride, b: kt, c: p, ldc: keys, accumulate: false)
                kt.deallocate()
                RowKernels.scale(p, by: scale, count: queries * keys)
                RowKernels.softmaxRows(p, p, rows: queries, length: keys)
                // out[Lq, dh] = probs · v[Lk, dh]
                let vs = rows(of: v, b, h, count: keys)
                TokenGemm.multiply(m: queries, a: p, lda: keys, b: vs, c: out.0 + out.1.start(b, h), ldc: out.1.rowStride, accumulate: false)
                vs.deallocate()
            }
        }
        return probs
    }

    /// The `count` rows of head (b, h) of `m`, packed as a product's B operand [count, dh].
    private func rows(of m: (UnsafeMutablePointer<Float>, HeadMatrix), _ b: Int, _ h: Int, count: Int) -> TokenGemm.Panels {
        TokenGemm.Panels(k: count, n: headDim, base: m.0 + m.1.start(b, h), ld: m.1.rowStride)
    }

    /// Accumulates dq, dk, dv from the output gradient. q, k and v may be one tensor (packed
    /// qkv): each head writes its own disjoint columns of it.
    func backward(probs: Tensor, gradOut g: (UnsafeMutablePointer<Float>, HeadMatrix),
                  q: (Tensor, HeadMatrix), k: (Tensor, HeadMatrix), v: (Tensor, HeadMatrix)) {
        let dScores = Tensor(uninitializedShape: [queries, keys])   // dScores: [Lq, Lk], one head at a time
        let ds = dScores.data
        // A packed qkv gets one gradient buffer; the first of q, k, v to reach it creates it.
        var fresh: [ObjectIdentifier: Bool] = [:]
        func target(_ t: Tensor) -> (UnsafeMutablePointer<Float>, Bool)? {
            guard t.requiresGrad else { return nil }
            if let overwrite = fresh[ObjectIdentifier(t)] { return (t.grad!.data, !overwrite) }
            var pointer: UnsafeMutablePointer<Float>!, wasFresh = false
            t.accumulateGrad { d, overwrite in pointer = d; wasFresh = overwrite }
            fresh[ObjectIdentifier(t)] = wasFresh
            return (pointer, !wasFresh)
        }
        let dq = target(q.0), dk = target(k.0), dv = target(v.0)
        for b in 0..<batch {
            for h in 0..<heads {
                let p = probs.data + (b * heads + h) * queries * keys
                let gOut = g.0 + g.1.start(b, h)
                if let (dv, accumulate) = dv {   // dv[Lk, dh] = probsᵀ · dOut
                    let gs = rows(of: g, b, h, count: queries)
                    TokenGemm.multiplyTransposedA(m: keys, a: p, lda: keys, b: gs, c: dv + v.1.start(b, h), ldc: v.1.rowStride,
                                                  accumulate: accumulate)
                    gs.deallocate()
                }
                guard dq != nil || dk != nil else { continue }
                // dProbs[Lq, Lk] = dOut · vᵀ; dScores = scale · probs ⊙ (dProbs − Σ_row dProbs ⊙ probs)
                let vt = TokenGemm.Panels(transposing: v.0.data + v.1.start(b, h), rows: keys, columns: headDim, ld: v.1.rowStride)
                TokenGemm.multiply(m: queries, a: gOut, lda: g.1.rowStride, b: vt, c: ds, ldc: keys, accumulate: false)
                vt.deallocate()
                RowKernels.softmaxRowsBackward(output: p, grad: ds, into: ds, rows: queries, length: keys, accumulate: false)
                RowKernels.scale(ds, by: scale, count: queries * keys)
                if let (dq, accumulate) = dq {   // dq[Lq, dh] = dScores · k
                    let ks = rows(of: (k.0.data, k.1), b, h, count: keys)
                    TokenGemm.multiply(m: queries, a: ds, lda: keys, b: ks, c: dq + q.1.start(b, h), ldc: q.1.rowStride, accumulate: accumulate)
                    ks.deallocate()
                }
                if let (dk, accumulate) = dk {   // dk[Lk, dh] = dScoresᵀ · q
                    let qs = rows(of: (q.0.data, q.1), b, h, count: queries)
                    TokenGemm.multiplyTransposedA(m: keys, a: ds, lda: keys, b: qs, c: dk + k.1.start(b, h), ldc: k.1.rowStride,
                                                  accumulate: accumulate)
                    qs.deallocate()
                }
            }
        }
    }
}
