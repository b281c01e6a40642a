/// Choosing tokens per image — masking keeps a random subset of each image's patches and a
/// decoder puts them back in place (MAE) — and scaling whole images (stochastic depth).
/// None of them sums over the batch, so none depends on how it is split across ranks.
extension Tensor {
    /// [N, L, D] → [N, K, D]: image n keeps its tokens `indices[n·K + k]`, k = 0…K−1, in that
    /// order (`torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, D))`). The backward pass
    /// adds each kept token's gradient back at its place (indices may repeat).
    public func gatheringTokens(_ indices: [Int], perImage k: Int) -> Tensor {
        precondition(rank == 3 && indices.count == shape[0] * k, "gatheringTokens: \(indices.count) indices, \(k) per image, for \(shape)")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        precondition(indices.allSatisfy { (0..<l).contains($0) }, "gatheringTokens: an index outside 0..<\(l)")
        let y = Tensor(uninitializedShape: [n, k, d])
        for i in 0..<n {
            for t in 0..<k { (y.data + (i * k + t) * d).update(from: data + (i * l + indices[i * k + t]) * d, count: d) }
        }
        Autograd.record(y, inputs: [self], op: "gather_tokens") { [self] g in
            accumulateGrad { dx, overwrite in
                if overwrite { dx.update(repeating: 0, count: n * l * d) }
                for i in 0..<n {
                    for t in 0..<k {
                        let src = g.data + (i * k + t) * d, dst = dx + (i * l + indices[i * k + t]) * d
                        for j in 0..<d { dst[j] += src[j] }
                    }
                }
            }
        }
        return y
    }

    /// [N, K, D] → [N, L, D]: token k of image n goes to place `indices[n·K + k]` (distinct
    /// within an image); places no token goes to are zero. The inverse of `gatheringTokens`.
    public func scatteringTokens(_ indices: [Int], length l: Int) -> Tensor {
        precondition(rank == 3 && indices.count == shape[0] * shape[1], "scatteringTokens: \(indices.count) indices for \(shape)")
        let (n, k, d) = (shape[0], shape[1], shape[2])
        for i in 0..<n {
            let places = indices[(i * k)..<((i + 1) * k)]
            precondition(places.allSatisfy { (0..<l).contains($0) } && Set(places).count == k,
                         "scatteringTokens: image \(i)'s places must be distinct and in 0..<\(l)")
        }
        let y = Tensor(shape: [n, l, d], repeating: 0)
        for i in 0..<n {
            for t in 0..<k { (y.data + (i * l + indices[i * k + t]) * d).update(from: data + (i * k + t) * d, count: d) }
        }
        Autograd.record(y, inputs: [self], op: "scatter_tokens") { [self] g in
            accumulateGrad { dx, overwrite in
                for i in 0..<n {
                    for t in 0..<k {
                        let src = g.data + (i * l + indices[i * k + t]) * d, dst = dx + (i * k + t) * d
                        if overwrite { dst.update(from: src, count: d) } else { for j in 0..<d { dst[j] += src[j] } }
                    }
                }
            }
        }
        return y
    }

    /// [N, L, D] with `token` [1, 1, D] added to tokens `places[n·M + j]`, j = 0…M−1, of
    /// each image n (MAE's decoder puts its `mask_token` where patches were removed). The
    /// token's gradient sums over those places, per image, chunked by `reduction`.
    public func addingToken(_ token: Tensor, at places: [Int], perImage m: Int, reduction: BatchReduction = .singleProcess) -> Tensor {
        precondition(rank == 3 && token.shape == [1, 1, shape[2]] && places.count == shape[0] * m,
                     "addingToken: token \(token.shape), \(places.count) places, \(m) per image, for \(shape)")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        precondition(places.allSatisfy { (0..<l).contains($0) }, "addingToken: a place outside 0..<\(l)")
        let y = copy()
        for i in 0..<n {
            for j in 0..<m {
                let row = y.data + (i * l + places[i * m + j]) * d
                for e in 0..<d { row[e] += token.data[e] }
            }
        }
        Autograd.record(y, inputs: [self, token], op: "add_token") { [self] g in
            if requiresGrad { addGrad(from: g) }
            if token.requiresGrad {
                let sums = reduction.sum(images: n, size: d) { i, chunk in
                    for j in 0..<m {
                        let row = g.data + (i * l + places[i * m + j]) * d
                        for e in 0..<d { chunk[e] += Double(row[e]) }
                    }
                }
                sums.withUnsafeBufferPointer { token.accumulatePreciseGrad($0) }
            }
        }
        return y
    }

    /// [N, …] with every element of image n multiplied by `factors[n]`.
    public func scalingEachImage(by factors: [Float]) -> Tensor {
        precondition(rank >= 1 && factors.count == shape[0], "scalingEachImage: \(factors.count) factors for \(shape)")
        let n = shape[0], per = count / max(n, 1)
        let y = Tensor(uninitializedShape: shape)
        for i in 0..<n {
            let f = factors[i], src = data + i * per, dst = y.data + i * per
            for j in 0..<per { dst[j] = src[j] * f }
        }
        Autograd.record(y, inputs: [self], op: "scale_images") { [self] g in
            accumulateGrad { dx, overwrite in
                for i in 0..<n {
                    let f = factors[i], src = g.data + i * per, dst = dx + i * per
                    if overwrite { for j in 0..<per { dst[j] = src[j] * f } } else { for j in 0..<per { dst[j] += src[j] * f } }
                }
            }
        }
        return y
    }
}
