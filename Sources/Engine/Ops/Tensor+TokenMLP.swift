import EngineKernels

/// A transformer block's feed-forward network as one op.
extension Tensor {
    /// fc2(GELU(fc1(x))) on token rows x [rows, D] (`rowsPerImage` rows an image), weights as
    /// `Tensor.linear` takes them: the same values as the three ops one after another, but
    /// only x and fc1's output are kept for backward. GELU's output, the widest activation of
    /// the block, is computed again there together with GELU's slope (one erf for both), so a
    /// ViT keeps one [rows, hidden] tensor per block instead of two.
    public func tokenMLP(fc1 w1: Tensor, _ b1: Tensor?, fc2 w2: Tensor, _ b2: Tensor?,
                         rowsPerImage: Int, reduction: BatchReduction = .singleProcess) -> Tensor {
        precondition(rank == 2 && w1.rank == 2 && w2.rank == 2 && shape[1] == w1.shape[1] && w2.shape[1] == w1.shape[0]
                     && (b1 == nil || b1!.shape == [w1.shape[0]]) && (b2 == nil || b2!.shape == [w2.shape[0]]),
                     "tokenMLP: input \(shape), fc1 \(w1.shape), fc2 \(w2.shape)")
        let (rows, hidden, out) = (shape[0], w1.shape[0], w2.shape[0])
        precondition(rowsPerImage >= 1 && rows % rowsPerImage == 0, "tokenMLP: \(rows) rows are not images of \(rowsPerImage) rows")
        let u = Tensor(uninitializedShape: [rows, hidden])   // u: fc1's output, kept
        TokenGemm.linear(rows: rows, x: data, weight: w1, bias: b1?.data, y: u.data)
        let y = Tensor(uninitializedShape: [rows, out])
        do {
            let a = Tensor(uninitializedShape: [rows, hidden])   // a: GELU(u), not kept
            RowKernels.gelu(u.data, a.data, rows * hidden)
            TokenGemm.linear(rows: rows, x: a.data, weight: w2, bias: b2?.data, y: y.data)
        }
        let f1 = Self.gemmFlops(m: rows, n: hidden, k: shape[1]), f2 = Self.gemmFlops(m: rows, n: out, k: hidden)
        let inputs = [self, w1] + (b1.map { [$0] } ?? []) + [w2] + (b2.map { [$0] } ?? [])
        Autograd.record(y, inputs: inputs, op: "mlp", flops: (f1.forward + f2.forward, f1.backward + f2.backward)) { [self] g in
            let a = Tensor(uninitializedShape: [rows, hidden]), slope = Tensor(uninitializedShape: [rows, hidden])
            RowKernels.geluWithSlope(u.data, a.data, slope: slope.data, rows * hidden)
            Tensor.accumulateTokenWeightGradient(gradOut: g, input: a, weight: w2, bias: b2, rowsPerImage: rowsPerImage, reduction: reduction)
            // a becomes dU = (dY · W2) ⊙ GELU'(u)
            TokenGemm.inputGradient(rows: rows, g: g.data, weight: w2, dx: a.data, accumulate: false)
            RowKernels.multiply(a.data, by: slope.data, rows * hidden)
            Tensor.accumulateTokenWeightGradient(gradOut: a, input: self, weight: w1, bias: b1, rowsPerImage: rowsPerImage, reduction: reduction)
            if requiresGrad {
                accumulateGrad { dx, overwrite in TokenGemm.inputGradient(rows: rows, g: a.data, weight: w1, dx: dx, accumulate: !overwrite) }
            }
        }
        return y
    }
}
