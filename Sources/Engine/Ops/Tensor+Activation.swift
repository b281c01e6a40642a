import EngineKernels

/// ReLU, GELU and dropout.
extension Tensor {
    /// max(x, 0).
    public func relu() -> Tensor {
        let y = Tensor(uninitializedShape: shape)
        let n = count
        let px = data, py = y.data
        VectorMath.relu(px, py, n)
        Autograd.record(y, inputs: [self], op: "relu") { [self] g in
            let pg = g.data
            accumulateGrad { d, overwrite in VectorMath.reluBackward(output: py, grad: pg, into: d, n, accumulate: !overwrite) }
        }
        return y
    }

    /// The exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)) (PyTorch's `approximate="none"`, not the
    /// tanh form).
    public func gelu() -> Tensor {
        let y = Tensor(uninitializedShape: shape)
        let n = count
        let px = data
        RowKernels.gelu(px, y.data, n)
        Autograd.record(y, inputs: [self], op: "gelu") { [self] g in
            let pg = g.data
            accumulateGrad { d, overwrite in RowKernels.geluBackward(input: px, grad: pg, into: d, n, accumulate: !overwrite) }
        }
        return y
    }

    /// Inverted dropout: zeroes each element with probability `p` and scales the rest by
    /// 1/(1-p). Identity when `training` is false or `p` is 0.
    public func dropout(p: Float, training: Bool, rng: inout RandomGenerator) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability \(p) must be in [0, 1)")
        guard training, p > 0 else { return self }
        let mask = Tensor(uninitializedShape: shape)   // mask: same shape, values 0 or 1/(1-p)
        let scale = 1 / (1 - p)
        for i in 0..<count { mask.data[i] = rng.uniform() < p ? 0 : scale }
        return self * mask
    }
}
