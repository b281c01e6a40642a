/// Batch normalisation over [N,C] or [N,C,H,W], with PyTorch's running-statistics semantics.
extension Tensor {
    /// Normalises each channel. In training it uses the batch statistics and moves the running
    /// ones: `running = (1 − momentum)·running + momentum·batch`, the variance unbiased
    /// (÷ (M−1)) as PyTorch stores it. In evaluation it uses the running statistics.
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
        precondition(rank == 2 || rank == 4, "batchNorm needs [N,C] or [N,C,H,W], got \(shape)")
        let (n, c) = (shape[0], shape[1])
        let hw = rank == 4 ? shape[2] * shape[3] : 1
        let m = n * hw
        precondition(!training || m > 1, "batchNorm in training needs more than one value per channel, got \(shape)")
        // mean, invStd: [C]
        let mean = Tensor(uninitializedShape: [c])
        let invStd = Tensor(uninitializedShape: [c])
        let px = data
        if training {
            for ch in 0..<c {
                // Two passes (mean, then squared deviations) in per-plane SIMD sums: accurate
                // enough in Float for planes of a few thousand values, and vectorised.
                var s: Double = 0
                for img in 0..<n { s += Double(VectorMath.sum(px + (img * c + ch) * hw, hw)) }
                let mu = Float(s / Double(m))
                var ss: Double = 0
                for img in 0..<n { ss += Double(VectorMath.sumSquaredDeviation(px + (img * c + ch) * hw, hw, from: mu)) }
                let variance = ss / Double(m)
                mean.data[ch] = mu
                invStd.data[ch] = Float(1 / (variance + Double(eps)).squareRoot())
                if let runningMean, let runningVar {
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mu
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch]
                        + momentum * Float(ss / Double(m - 1))
                }
            }
        } else {
            precondition(runningMean != nil && runningVar != nil, "batchNorm in eval mode needs running statistics")
            for ch in 0..<c {
                mean.data[ch] = runningMean!.data[ch]
                invStd.data[ch] = 1 / (runningVar!.data[ch] + eps).squareRoot()
            }
        }
        let y = Tensor(uninitializedShape: shape)
        let py = y.data
        for img in 0..<n {
            for ch in 0..<c {
                let scale = invStd.data[ch] * (weight?.data[ch] ?? 1)
                let shift = (bias?.data[ch] ?? 0) - mean.data[ch] * scale
                let src = px + (img * c + ch) * hw, dst = py + (img * c + ch) * hw
                for i in 0..<hw { dst[i] = src[i] * scale + shift }
            }
        }
        let inputs = [self] + [weight, bias].compactMap { $0 }
        Autograd.record(y, inputs: inputs) { [self] g in
            let pg = g.data
            // Per channel: Σ dy and Σ dy·x̂.
            var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                let mu = mean.data[ch], istd = invStd.data[ch]
                var a: Float = 0, b: Float = 0
                for img in 0..<n {
                    let gp = pg + (img * c + ch) * hw, xp = px + (img * c + ch) * hw
                    let sg = VectorMath.sum(gp, hw)
                    a += sg
                    b += VectorMath.dot(gp, xp, hw) - mu * sg   // Σ dy·(x − μ)
                }
                sumG[ch] = a
                sumGX[ch] = b * istd
            }
            if let weight, weight.requiresGrad {
                weight.accumulateGrad { d, ow in for ch in 0..<c { d[ch] = (ow ? 0 : d[ch]) + sumGX[ch] } }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad { d, ow in for ch in 0..<c { d[ch] = (ow ? 0 : d[ch]) + sumG[ch] } }
            }
            guard requiresGrad else { return }
            accumulateGrad { dx, overwrite in
                for ch in 0..<c {
                    let mu = mean.data[ch], istd = invStd.data[ch]
                    let gamma = weight?.data[ch] ?? 1
                    let k = gamma * istd
                    // training: dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂)); eval: dx = γ·σ⁻¹·dy
                    let meanG = training ? sumG[ch] / Float(m) : 0
                    let meanGX = training ? sumGX[ch] / Float(m) : 0
                    // dx = k·dy + a·x + b, with the per-channel constants folded.
                    let a = -k * istd * meanGX
                    let b = -k * meanG - a * mu
                    for img in 0..<n {
                        let off = (img * c + ch) * hw
                        let gp = pg + off, xp = px + off, dp = dx + off
                        if overwrite {
                            for i in 0..<hw { dp[i] = k * gp[i] + a * xp[i] + b }
                        } else {
                            for i in 0..<hw { dp[i] += k * gp[i] + a * xp[i] + b }
                        }
                    }
                }
            }
        }
        return y
    }
}
