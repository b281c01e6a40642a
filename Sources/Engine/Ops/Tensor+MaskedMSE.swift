import Foundation

/// MAE's reconstruction loss.
extension Tensor {
    /// Mean squared error over the masked patches, as MAE computes it: `self` is pred
    /// [N, L, P], target [N, L, P] the patchified images, mask [N, L] with 1 for a masked patch.
    /// e_nl = mean over P of (pred − t)², loss = Σ mask·e / Σ mask, where t is the target or,
    /// with `normPixels`, each patch standardised: (target − μ) / (σ² + 1e-6)^½ with σ² the
    /// unbiased variance of its P values. Differentiable in pred and target, not in the mask.
    public func maskedMSE(target: Tensor, mask: Tensor, normPixels: Bool) -> Tensor {
        precondition(rank == 3 && target.shape == shape && mask.shape == [shape[0], shape[1]],
                     "maskedMSE: pred \(shape), target \(target.shape), mask \(mask.shape)")
        let p = shape[2], patches = shape[0] * shape[1]
        precondition(!normPixels || p > 1, "maskedMSE: norm_pix needs more than one value per patch")
        // t: [N, L, P] the target the loss compares with; rstd: [N·L] (norm_pix only)
        let t = normPixels ? Tensor(uninitializedShape: shape) : target
        let rstd = Tensor(uninitializedShape: [normPixels ? patches : 0])
        if normPixels {
            for r in 0..<patches {
                let x = target.data + r * p, y = t.data + r * p
                var mean: Float = 0
                for j in 0..<p { mean += x[j] }
                mean /= Float(p)
                var ss: Float = 0
                for j in 0..<p { let c = x[j] - mean; ss += c * c }
                let inv = 1 / (ss / Float(p - 1) + 1e-6).squareRoot()
                rstd.data[r] = inv
                for j in 0..<p { y[j] = (x[j] - mean) * inv }
            }
        }
        var maskSum: Double = 0, total: Double = 0
        for r in 0..<patches {
            let m = mask.data[r]
            maskSum += Double(m)
            guard m != 0 else { continue }
            let a = data + r * p, b = t.data + r * p
            var e: Float = 0
            for j in 0..<p { let diff = a[j] - b[j]; e += diff * diff }
            total += Double(m * e / Float(p))
        }
        let loss = Tensor.scalar(maskSum > 0 ? Float(total / maskSum) : 0)
        Autograd.record(loss, inputs: [self, target], op: "masked_mse") { [self] g in
            // dpred = g · mask · 2 (pred − t) / (P · Σ mask); dt = −dpred (zero when nothing is masked)
            let scale = maskSum > 0 ? g.data[0] * 2 / Float(p) / Float(maskSum) : 0
            let dpred = Tensor(uninitializedShape: shape)   // dpred: [N, L, P]
            for r in 0..<patches {
                let c = mask.data[r] * scale
                for j in r * p..<(r + 1) * p { dpred.data[j] = c * (data[j] - t.data[j]) }
            }
            if requiresGrad {
                accumulateGrad { dx, overwrite in
                    for j in 0..<count { dx[j] = overwrite ? dpred.data[j] : dx[j] + dpred.data[j] }
                }
            }
            guard target.requiresGrad else { return }
            target.accumulateGrad { dx, overwrite in
                for r in 0..<patches {
                    let d = dpred.data + r * p, out = dx + r * p
                    guard normPixels else {
                        for j in 0..<p { out[j] = overwrite ? -d[j] : out[j] - d[j] }
                        continue
                    }
                    // t = (x − μ)·r: dx = r·(dt − mean dt) − r³·(x − μ)·Σ dt·(x − μ) / (P − 1), with dt = −d
                    let x = target.data + r * p, inv = rstd.data[r]
                    var mean: Float = 0
                    for j in 0..<p { mean += x[j] }
                    mean /= Float(p)
                    var sumD: Float = 0, sumDX: Float = 0
                    for j in 0..<p { sumD -= d[j]; sumDX -= d[j] * (x[j] - mean) }
                    let meanD = sumD / Float(p), k = inv * inv * inv * sumDX / Float(p - 1)
                    for j in 0..<p {
                        let v = inv * (-d[j] - meanD) - k * (x[j] - mean)
                        out[j] = overwrite ? v : out[j] + v
                    }
                }
            }
        }
        return loss
    }
}
