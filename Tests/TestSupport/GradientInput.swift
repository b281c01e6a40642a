import Engine

/// A standard-normal tensor times `scale` that requires a gradient: the input of a
/// finite-difference check.
public func gradientInput(_ shape: [Int], scale: Float = 1, rng: inout RandomGenerator) -> Tensor {
    let t = Tensor.randn(shape, rng: &rng)
    for i in 0..<t.count { t[flat: i] *= scale }
    t.requiresGrad = true
    return t
}
