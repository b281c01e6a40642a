/// Sums per-channel statistics over the data-parallel replicas: what turns batch norm into
/// SyncBatchNorm. The MPI module provides one over its communicator; the engine only calls it.
public protocol CrossReplicaSum: AnyObject {
    /// Replaces every value with its sum over all replicas (every replica calls it, in the
    /// same order). A failure to communicate ends the process with a message.
    func sumInPlace(_ values: UnsafeMutableBufferPointer<Double>)
}

/// Batch normalisation over [N,C] or [N,C,H,W], with PyTorch's running-statistics semantics.
extension Tensor {
    /// Normalises each channel. In training it uses the batch statistics and moves the running
    /// ones: `running = (1 − momentum)·running + momentum·batch`, the variance unbiased
    /// (÷ (M−1)) as PyTorch stores it. In evaluation it uses the running statistics.
    ///
    /// `relu: true` fuses a following ReLU, and `residual` a residual add before it
    /// (`relu(bn(x) + residual)`, the end of a ResNet block): one pass instead of three, and
    /// the intermediate tensors are never stored.
    ///
    /// With `crossReplica`, training statistics (and the two per-channel sums of the backward
    /// pass) cover the batches of all replicas: SyncBatchNorm. The weight and bias gradients
    /// stay local sums, which the gradient reducer then averages, as PyTorch does.
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5,
                          residual: Tensor? = nil, relu: Bool = false,
                          crossReplica: (any CrossReplicaSum)? = nil) -> Tensor {
        precondition(residual == nil || residual!.shape == shape, "batchNorm: residual \(residual!.shape) for \(shape)")
        precondition(rank == 2 || rank == 4, "batchNorm needs [N,C] or [N,C,H,W], got \(shape)")
        let (n, c) = (shape[0], shape[1])
        let hw = rank == 4 ? shape[2] * shape[3] : 1
        let m = n * hw
        // With cross-replica statistics the count that matters is the global one (checked below).
        precondition(!training || m > 1 || crossReplica != nil, "batchNorm in training needs more than one value per channel, got \(shape)")
        // mean, invStd: [C]
        let mean = Tensor(uninitializedShape: [c])
        let invStd = Tensor(uninitializedShape: [c])
        let px = data
        // Element count behind the statistics: this batch, or every replica's.
        var total = Double(m)
        if training {
            // Two passes (mean, then squared deviations), accumulated in double: batch
            // statistics feed every later layer's gradient, and float sums here cost
            // measurable digits against PyTorch's float64 reference.
            var sums = [Double](repeating: 0, count: c + 1)   // sums: [C] + element count
            for ch in 0..<c {
                for img in 0..<n { sums[ch] += VectorMath.sumDouble(px + (img * c + ch) * hw, hw) }
            }
            sums[c] = Double(m)
            if let crossReplica { sums.withUnsafeMutableBufferPointer { crossReplica.sumInPlace($0) } }
            total = sums[c]
            precondition(total > 1, "batchNorm in training needs more than one value per channel over all replicas, got \(total)")
            var squares = [Double](repeating: 0, count: c)    // squares: [C]
            for ch in 0..<c {
                let muD = sums[ch] / total
                for img in 0..<n { squares[ch] += VectorMath.sumSquaredDeviationDouble(px + (img * c + ch) * hw, hw, from: muD) }
            }
            if let crossReplica { squares.withUnsafeMutableBufferPointer { crossReplica.sumInPlace($0) } }
            for ch in 0..<c {
                let mu = Float(sums[ch] / total)
                let variance = squares[ch] / total
                mean.data[ch] = mu
                invStd.data[ch] = Float(1 / (variance + Double(eps)).squareRoot())
                if let runningMean, let runningVar {
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mu
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch]
                        + momentum * Float(squares[ch] / (total - 1))
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
                if let residual {
                    let res = residual.data + (img * c + ch) * hw
                    if relu { for i in 0..<hw { let v = src[i] * scale + shift + res[i]; dst[i] = v > 0 ? v : 0 } }
                    else { for i in 0..<hw { dst[i] = src[i] * scale + shift + res[i] } }
                } else if relu {
                    for i in 0..<hw { let v = src[i] * scale + shift; dst[i] = v > 0 ? v : 0 }
                } else {
                    for i in 0..<hw { dst[i] = src[i] * scale + shift }
                }
            }
        }
        let inputs = [self] + [weight, bias, residual].compactMap { $0 }
        Autograd.record(y, inputs: inputs) { [self] gOut in
            // With the fused ReLU, the gradient reaching the normalisation is dy masked by y > 0.
            let g: Tensor
            if relu {
                g = Tensor(uninitializedShape: shape)
                VectorMath.reluBackward(output: py, grad: gOut.data, into: g.data, count, accumulate: false)
            } else {
                g = gOut
            }
            if let residual, residual.requiresGrad { residual.addGrad(from: g) }
            let pg = g.data
            // Per channel: Σ dy and Σ dy·x̂ over this batch. sums: [2C]
            var sums = [Double](repeating: 0, count: 2 * c)
            for ch in 0..<c {
                let mu = Double(mean.data[ch])
                for img in 0..<n {
                    let gp = pg + (img * c + ch) * hw, xp = px + (img * c + ch) * hw
                    let (g, gx) = VectorMath.sumAndDotCenteredDouble(gp, xp, hw, center: mu)   // Σ dy, Σ dy·(x − μ)
                    sums[ch] += g
                    sums[c + ch] += gx
                }
            }
            let sumG = (0..<c).map { Float(sums[$0]) }
            let sumGX = (0..<c).map { Float(sums[c + $0]) * invStd.data[$0] }
            if let weight, weight.requiresGrad {
                weight.accumulateGrad { d, ow in for ch in 0..<c { d[ch] = (ow ? 0 : d[ch]) + sumGX[ch] } }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad { d, ow in for ch in 0..<c { d[ch] = (ow ? 0 : d[ch]) + sumG[ch] } }
            }
            // The input gradient's means run over every replica's batch under SyncBatchNorm.
            if training, let crossReplica, requiresGrad { sums.withUnsafeMutableBufferPointer { crossReplica.sumInPlace($0) } }
            guard requiresGrad else { return }
            accumulateGrad { dx, overwrite in
                for ch in 0..<c {
                    let mu = mean.data[ch], istd = invStd.data[ch]
                    let gamma = weight?.data[ch] ?? 1
                    let k = gamma * istd
                    // training: dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂)); eval: dx = γ·σ⁻¹·dy
                    let meanG = training ? Float(sums[ch] / total) : 0
                    let meanGX = training ? Float(sums[c + ch] / total) * istd : 0
                    // dx = k·dy + a·(x − μ) + b, with the per-channel constants folded (x is
                    // centred first: folding μ into b would cancel badly when |μ| ≫ σ).
                    let a = -k * istd * meanGX
                    let b = -k * meanG
                    for img in 0..<n {
                        let off = (img * c + ch) * hw
                        let gp = pg + off, xp = px + off, dp = dx + off
                        if overwrite {
                            for i in 0..<hw { dp[i] = k * gp[i] + a * (xp[i] - mu) + b }
                        } else {
                            for i in 0..<hw { dp[i] += k * gp[i] + a * (xp[i] - mu) + b }
                        }
                    }
                }
            }
        }
        return y
    }
}
