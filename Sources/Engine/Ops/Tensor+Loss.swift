import Foundation

/// Log-softmax, cross-entropy and the InfoNCE contrastive loss.
extension Tensor {
    /// log(softmax(x)) along `dim`, computed stably.
    public func logSoftmax(dim: Int = -1) -> Tensor {
        let (outer, size, inner) = split(at: dim)
        let y = Tensor(uninitializedShape: shape)
        for o in 0..<outer {
            for j in 0..<inner {
                let base = o * size * inner + j
                var mx = -Float.infinity
                for i in 0..<size { mx = max(mx, data[base + i * inner]) }
                var s: Float = 0
                for i in 0..<size { s += exp(data[base + i * inner] - mx) }
                let lse = mx + log(s)
                for i in 0..<size { y.data[base + i * inner] = data[base + i * inner] - lse }
            }
        }
        Autograd.record(y, inputs: [self], op: "log_softmax") { [self] g in
            // dx = dy − softmax · Σ dy
            accumulateGrad { dx, overwrite in
                for o in 0..<outer {
                    for j in 0..<inner {
                        let base = o * size * inner + j
                        var sg: Float = 0
                        for i in 0..<size { sg += g.data[base + i * inner] }
                        for i in 0..<size {
                            let k = base + i * inner
                            let v = g.data[k] - exp(y.data[k]) * sg
                            dx[k] = overwrite ? v : dx[k] + v
                        }
                    }
                }
            }
        }
        return y
    }

    /// Mean cross-entropy of logits [N,C] against class indices, with optional label
    /// smoothing ε (target = (1−ε)·onehot + ε/C, as PyTorch).
    public func crossEntropy(targets: [Int], labelSmoothing: Float = 0) -> Tensor {
        precondition(rank == 2 && shape[0] == targets.count, "crossEntropy: logits \(shape) for \(targets.count) targets")
        let (n, c) = (shape[0], shape[1])
        // probs: [N, C] softmax, kept for backward
        let probs = Tensor(uninitializedShape: shape)
        var total: Double = 0
        let eps = labelSmoothing
        for r in 0..<n {
            let t = targets[r]
            precondition(t >= 0 && t < c, "crossEntropy: target \(t) outside 0..<\(c)")
            let x = data + r * c, p = probs.data + r * c
            var mx = -Float.infinity
            for i in 0..<c { mx = max(mx, x[i]) }
            var s: Float = 0
            for i in 0..<c { let e = exp(x[i] - mx); p[i] = e; s += e }
            let lse = mx + log(s)
            for i in 0..<c { p[i] /= s }
            var sumLogP: Float = 0
            if eps > 0 { for i in 0..<c { sumLogP += x[i] - lse } }
            total += Double(-(1 - eps) * (x[t] - lse) - eps / Float(c) * sumLogP)
        }
        let loss = Tensor.scalar(Float(total / Double(n)))
        Autograd.record(loss, inputs: [self], op: "cross_entropy") { [self] g in
            let scale = g.data[0] / Float(n)
            accumulateGrad { dx, overwrite in
                for r in 0..<n {
                    let p = probs.data + r * c, d = dx + r * c
                    for i in 0..<c {
                        let target = (i == targets[r] ? 1 - eps : 0) + eps / Float(c)
                        let v = (p[i] - target) * scale
                        d[i] = overwrite ? v : d[i] + v
                    }
                }
            }
        }
        return loss
    }

    /// InfoNCE as MoCo computes it: logits = [q·k, q·queueᵀ] / T, loss = CE(logits, 0).
    /// `self` is q [N,D]; k [N,D] and queue [K,D] hold L2-normalised keys.
    /// Returns the loss and the logits [N, 1+K] (for accuracy metrics).
    public func infoNCE(keys k: Tensor, queue: Tensor, temperature: Float) -> (loss: Tensor, logits: Tensor) {
        precondition(rank == 2 && k.shape == shape && queue.rank == 2 && queue.shape[1] == shape[1],
                     "infoNCE: q \(shape), k \(k.shape), queue \(queue.shape)")
        let (n, d, kq) = (shape[0], shape[1], queue.shape[0])
        let width = 1 + kq
        let logits = Tensor(uninitializedShape: [n, width])   // logits: [N, 1+K]
        // Negatives straight into columns 1...K: q[N,D] · queueᵀ[D,K].
        BLAS.sgemm(transA: false, transB: true, m: n, n: kq, k: d, alpha: 1 / temperature,
                   a: data, lda: d, b: queue.data, ldb: d, beta: 0, c: logits.data + 1, ldc: width)
        for r in 0..<n {
            var dot: Float = 0
            for j in 0..<d { dot += data[r * d + j] * k.data[r * d + j] }
            logits.data[r * width] = dot / temperature
        }
        let logitsOut = logits.detached()
        let loss = Autograd.noGrad { logits.crossEntropy(targets: [Int](repeating: 0, count: n)) }
        // probs: [N, 1+K] for the backward pass
        let probs = logits.copy()
        for r in 0..<n {
            let p = probs.data + r * width
            var mx = -Float.infinity
            for i in 0..<width { mx = max(mx, p[i]) }
            var s: Float = 0
            for i in 0..<width { p[i] = exp(p[i] - mx); s += p[i] }
            for i in 0..<width { p[i] /= s }
        }
        Autograd.record(loss, inputs: [self, k], op: "info_nce") { [self] g in
            // dlogits = (softmax − onehot₀) · g / N, then through the 1/T scaling.
            let scale = g.data[0] / Float(n) / temperature
            let dl = Tensor(uninitializedShape: [n, width])
            for r in 0..<n {
                for i in 0..<width { dl.data[r * width + i] = (probs.data[r * width + i] - (i == 0 ? 1 : 0)) * scale }
            }
            if requiresGrad {   // dq = dl₀ ⊙ k + dl[:,1:] · queue
                accumulateGrad { dq, overwrite in
                    for r in 0..<n {
                        let a = dl.data[r * width]
                        for j in 0..<d {
                            let v = a * k.data[r * d + j]
                            dq[r * d + j] = overwrite ? v : dq[r * d + j] + v
                        }
                    }
                    BLAS.sgemm(transA: false, transB: false, m: n, n: d, k: kq, a: dl.data + 1, lda: width,
                               b: queue.data, ldb: d, beta: 1, c: dq, ldc: d)
                }
            }
            if k.requiresGrad {   // dk = dl₀ ⊙ q
                k.accumulateGrad { dk, overwrite in
                    for r in 0..<n {
                        let a = dl.data[r * width]
                        for j in 0..<d {
                            let v = a * data[r * d + j]
                            dk[r * d + j] = overwrite ? v : dk[r * d + j] + v
                        }
                    }
                }
            }
        }
        return (loss, logitsOut)
    }
}
