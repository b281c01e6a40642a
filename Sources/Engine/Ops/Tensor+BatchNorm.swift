/// Sums per-channel statistics over the data-parallel replicas: what turns batch norm into
/// SyncBatchNorm. The MPI module provides one over its communicator; the engine only calls it.
public protocol CrossReplicaSum: AnyObject {
    /// Replaces every value with its sum over all replicas (every replica calls it, in the
    /// same order). A failure to communicate ends the process with a message.
    func sumInPlace(_ values: UnsafeMutableBufferPointer<Double>)
    /// Number of replicas the sums run over.
    var replicas: Int { get }
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
    ///
    /// `reduction` chunks the sums over the batch (`BatchReduction`) for this replica's share.
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5,
                          residual: Tensor? = nil, relu: Bool = false,
                          crossReplica: (any CrossReplicaSum)? = nil,
                          reduction: BatchReduction = .singleProcess) -> Tensor {
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
            // Σx and Σx² in one pass, in double: batch statistics feed every later layer's
            // gradient, and float sums here cost measurable digits against PyTorch's float64
            // reference. Σ(x − μ)² = Σx² − μ·Σx then loses only log2(1 + μ²/σ²) of double's 53
            // bits, invisible at float precision unless |μ|/σ exceeds about 10⁴.
            // Per image, then per chunk and tree (`BatchReduction`): the same bits however the
            // batch is split across replicas.
            var sums = reduction.sum(images: n, size: 2 * c) { img, chunk in   // sums: Σx [C], Σx² [C], then the element count
                for ch in 0..<c {
                    let (s, q) = VectorMath.sumAndSumOfSquaresDouble(px + (img * c + ch) * hw, hw)
                    chunk[ch] += s
                    chunk[c + ch] += q
                }
            }
            sums.append(Double(m))
            if let crossReplica { sums.withUnsafeMutableBufferPointer { crossReplica.sumInPlace($0) } }
            total = sums[2 * c]
            precondition(total > 1, "batchNorm in training needs more than one value per channel over all replicas, got \(total)")
            for ch in 0..<c {
                let muD = sums[ch] / total
                let squares = max(0, sums[c + ch] - muD * sums[ch])   // Σ (x − μ)²
                let mu = Float(muD)
                mean.data[ch] = mu
                invStd.data[ch] = Float(1 / (squares / total + Double(eps)).squareRoot())
                if let runningMean, let runningVar {
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mu
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch]
                        + momentum * Float(squares / (total - 1))
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
        Autograd.record(y, inputs: inputs, op: "batch_norm") { [self] gOut in
            // gOut belongs to this backward step (the tape drops it afterwards): with the fused
            // ReLU it is masked in place (dy·[y > 0]) during the pass that sums it, and it is
            // handed on as the residual's gradient without a copy.
            let pg = gOut.data
            var sums = reduction.sum(images: n, size: 2 * c) { img, chunk in   // sums: Σ dy [C], Σ dy·(x − μ) [C]
                for ch in 0..<c {
                    let off = (img * c + ch) * hw
                    let mu = Double(mean.data[ch])
                    let (g, gx) = relu
                        ? VectorMath.reluMaskSumAndDotCenteredDouble(pg + off, output: py + off, px + off, hw, center: mu)
                        : VectorMath.sumAndDotCenteredDouble(pg + off, px + off, hw, center: mu)
                    chunk[ch] += g
                    chunk[c + ch] += gx
                }
            }
            if let residual, residual.requiresGrad { residual.takeGrad(gOut) }
            // Under SyncBatchNorm the sums run over every replica's batch: the input gradient's
            // means need them, and the weight and bias gradients are then this batch's share of
            // the global sums (÷ replicas), which the gradient reducer's average turns into
            // exactly what averaging the local sums gives — without depending on the split.
            let affineNeedsGrad = (weight?.requiresGrad ?? false) || (bias?.requiresGrad ?? false)
            var share = 1.0
            if training, let crossReplica, requiresGrad || affineNeedsGrad {
                sums.withUnsafeMutableBufferPointer { crossReplica.sumInPlace($0) }
                share = 1 / Double(crossReplica.replicas)
            }
            if let weight, weight.requiresGrad {   // Σ dy·x̂ = σ⁻¹·Σ dy·(x − μ)
                let d = (0..<c).map { sums[c + $0] * Double(invStd.data[$0]) * share }
                d.withUnsafeBufferPointer { weight.accumulatePreciseGrad($0) }
            }
            if let bias, bias.requiresGrad {
                let d = (0..<c).map { sums[$0] * share }
                d.withUnsafeBufferPointer { bias.accumulatePreciseGrad($0) }
            }
            guard requiresGrad else { return }
            // dx = k·dy + a·(x − μ) + b per channel. training: dx = γ·σ⁻¹·(dy − mean(dy) −
            // x̂·mean(dy·x̂)); eval: dx = γ·σ⁻¹·dy. x is centred first: folding μ into b would
            // cancel badly when |μ| ≫ σ. coefficients: [C] each
            var kc = [Float](repeating: 0, count: c), ac = kc, bc = kc
            for ch in 0..<c {
                let istd = invStd.data[ch]
                let k = (weight?.data[ch] ?? 1) * istd
                let meanG = training ? Float(sums[ch] / total) : 0
                let meanGX = training ? Float(sums[c + ch] / total) * istd : 0
                kc[ch] = k
                ac[ch] = -k * istd * meanGX
                bc[ch] = -k * meanG
            }
            accumulateGrad { dx, overwrite in
                for img in 0..<n {
                    for ch in 0..<c {
                        let off = (img * c + ch) * hw
                        let gp = pg + off, xp = px + off, dp = dx + off
                        let k = kc[ch], a = ac[ch], b = bc[ch], mu = mean.data[ch]
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
