import EngineKernels

/// Scaled dot-product attention, and multi-head self-attention on a packed `qkv` tensor.
///
/// Every head is a pair of register-tiled products (`TokenGemm.run`) reading its q, k, v rows
/// in place through their row stride, so timm's split `reshape(N, L, 3, H, D/H).permute(2,
/// 0, 3, 1, 4)` and the merge back to [N, L, D] never copy a whole tensor; only kᵀ (and vᵀ
/// backward) is transposed, one head at a time, into a small zero-padded panel.
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
        Autograd.record(y, inputs: [q, k, v], op: "attention", flops: geometry.flops) { g in
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
        // k and v as offsets of the one buffer (not as moved pointers): what `warm` reads ends at
        // the buffer's end (AddressSanitizer caught a 2·D-float over-read on the last image).
        let probs = geometry.forward(q: (p, packed), k: (p, packed.shifted(by: d)), v: (p, packed.shifted(by: 2 * d)), out: (y.data, merged))
        Autograd.record(y, inputs: [qkv], op: "attention", flops: geometry.flops) { g in
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

    /// Floating-point operations of the two products forward and the four backward.
    var flops: (forward: Double, backward: Double) {
        let f = 4 * Double(batch * heads) * Double(queries * keys * headDim)
        return (f, 2 * f)
    }

    /// Columns of a head's score rows: the keys rounded up to a whole AVX-512 vector, so the
    /// score products and the softmax run on whole vectors (the lanes past the keys are
    /// computed from kᵀ's padding and ignored).
    var scoreColumns: Int { (keys + 15) / 16 * 16 }

    /// Runs every head; returns the attention probabilities [B, H, Lq, Lk] backward needs.
    func forward(q: (UnsafeMutablePointer<Float>, HeadMatrix), k: (UnsafeMutablePointer<Float>, HeadMatrix),
                 v: (UnsafeMutablePointer<Float>, HeadMatrix), out: (UnsafeMutablePointer<Float>, HeadMatrix)) -> Tensor {
        let probs = Tensor(uninitializedShape: [batch, heads, queries, keys])   // probs: [B, H, Lq, Lk]
        let ld = scoreColumns
        let kt = Tensor.zeros([headDim, ld])                   // kt: [dh, Lk padded], one head's kᵀ
        let scores = Tensor(uninitializedShape: [queries, ld])   // scores: [Lq, Lk padded]
        for b in 0..<batch {
            if b + 1 < batch { warm(image: b + 1, [q, k, v, out]) }
            for h in 0..<heads {
                let p = probs.data + (b * heads + h) * queries * keys
                // scores = q · kᵀ, then probs = softmax(scale · scores) per row
                transpose(k, b, h, into: kt.data, ld: ld)
                TokenGemm.run(TileGemmProblem(m: queries, n: keys, k: headDim, a: q.0 + q.1.start(b, h), sa: q.1.rowStride, st: 1,
                                              b: kt.data, ldb: ld, c: scores.data, ldc: ld))
                RowKernels.attentionSoftmax(scores: scores.data, ld: ld, into: p, rows: queries, length: keys, scale: scale)
                // out[Lq, dh] = probs · v[Lk, dh]
                TokenGemm.run(TileGemmProblem(m: queries, n: headDim, k: keys, a: p, sa: keys, st: 1,
                                              b: v.0 + v.1.start(b, h), ldb: v.1.rowStride,
                                              c: out.0 + out.1.start(b, h), ldc: out.1.rowStride))
            }
        }
        return probs
    }

    /// Reads image b's rows of every head of each matrix into the cache (`CacheWarming`):
    /// the heads walk them with gaps, one cache miss at a time.
    private func warm(image b: Int, _ matrices: [(UnsafeMutablePointer<Float>, HeadMatrix)]) {
        for (base, m) in matrices {
            // From the image's first row of its first head to the end of the image's block
            // (in a packed qkv, k and v start D and 2D floats into it).
            CacheWarming.touch(base + m.start(b, 0), count: m.batchStride - m.offset)
        }
    }

    /// The rows of head (b, h) of `m` transposed into [dh, ld] (columns past the rows keep
    /// their zeros).
    private func transpose(_ m: (UnsafeMutablePointer<Float>, HeadMatrix), _ b: Int, _ h: Int,
                           into t: UnsafeMutablePointer<Float>, ld: Int) {
        RowKernels.transpose(rows: keys, columns: headDim, m.0 + m.1.start(b, h), lda: m.1.rowStride, into: t, ldt: ld)
    }

    /// Accumulates dq, dk, dv from the output gradient. q, k and v may be one tensor (packed
    /// qkv): each head writes its own disjoint columns of it.
    func backward(probs: Tensor, gradOut g: (UnsafeMutablePointer<Float>, HeadMatrix),
                  q: (Tensor, HeadMatrix), k: (Tensor, HeadMatrix), v: (Tensor, HeadMatrix)) {
        // A packed qkv gets one gradient buffer; the first of q, k, v to reach it creates it.
        var fresh: [ObjectIdentifier: Bool] = [:]
        func target(_ t: Tensor) -> (UnsafeMutablePointer<Float>, TileGemmProblem.Start)? {
            guard t.requiresGrad else { return nil }
            if let overwrite = fresh[ObjectIdentifier(t)] { return (t.grad!.data, overwrite ? .zero : .accumulate) }
            var pointer: UnsafeMutablePointer<Float>!, wasFresh = false
            t.accumulateGrad { d, overwrite in pointer = d; wasFresh = overwrite }
            fresh[ObjectIdentifier(t)] = wasFresh
            return (pointer, wasFresh ? .zero : .accumulate)
        }
        let dq = target(q.0), dk = target(k.0), dv = target(v.0)
        let ld = scoreColumns
        let vt = Tensor.zeros([headDim, ld])                  // vt: [dh, Lk padded], one head's vᵀ
        let dScores = Tensor(uninitializedShape: [queries, ld])   // dScores: [Lq, Lk padded], one head at a time
        let ds = dScores.data
        var reads: [(UnsafeMutablePointer<Float>, HeadMatrix)] = [(q.0.data, q.1), (k.0.data, k.1), (v.0.data, v.1), g]
        for (target, m) in [(dq, q.1), (dk, k.1), (dv, v.1)] { if let target { reads.append((target.0, m)) } }
        for b in 0..<batch {
            if b + 1 < batch { warm(image: b + 1, reads) }
            for h in 0..<heads {
                let p = probs.data + (b * heads + h) * queries * keys
                let gOut = g.0 + g.1.start(b, h)
                if let (dv, start) = dv {   // dv[Lk, dh] = probsᵀ · dOut
                    TokenGemm.run(TileGemmProblem(m: keys, n: headDim, k: queries, a: p, sa: 1, st: keys, b: gOut, ldb: g.1.rowStride,
                                                  c: dv + v.1.start(b, h), ldc: v.1.rowStride, start: start))
                }
                guard dq != nil || dk != nil else { continue }
                // dProbs[Lq, Lk] = dOut · vᵀ; dScores = scale · probs ⊙ (dProbs − Σ_row dProbs ⊙ probs)
                transpose((v.0.data, v.1), b, h, into: vt.data, ld: ld)
                TokenGemm.run(TileGemmProblem(m: queries, n: keys, k: headDim, a: gOut, sa: g.1.rowStride, st: 1,
                                              b: vt.data, ldb: ld, c: ds, ldc: ld))
                RowKernels.softmaxRowsBackward(output: p, grad: ds, ldg: ld, into: ds, ldd: ld, rows: queries, length: keys,
                                               scale: scale, accumulate: false)
                if let (dq, start) = dq {   // dq[Lq, dh] = dScores · k
                    TokenGemm.run(TileGemmProblem(m: queries, n: headDim, k: keys, a: ds, sa: ld, st: 1,
                                                  b: k.0.data + k.1.start(b, h), ldb: k.1.rowStride,
                                                  c: dq + q.1.start(b, h), ldc: q.1.rowStride, start: start))
                }
                if let (dk, start) = dk {   // dk[Lk, dh] = dScoresᵀ · q
                    TokenGemm.run(TileGemmProblem(m: keys, n: headDim, k: queries, a: ds, sa: 1, st: ld,
                                                  b: q.0.data + q.1.start(b, h), ldb: q.1.rowStride,
                                                  c: dk + k.1.start(b, h), ldc: k.1.rowStride, start: start))
                }
            }
        }
    }
}
