/// ReLU and dropout.
extension Tensor {
    /// max(x, 0).
    public func relu() -> Tensor {
        let y = Tensor(uninitializedShape: shape)
        let px = data, py = y.data
        for i in 0..<count { py[i] = max(px[i], 0) }
        Autograd.record(y, inputs: [self]) { [self] g in
            let pg = g.data
            accumulateGrad { d, overwrite in
                if overwrite { for i in 0..<count { d[i] = py[i] > 0 ? pg[i] : 0 } }
                else { for i in 0..<count where py[i] > 0 { d[i] += pg[i] } }
            }
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
