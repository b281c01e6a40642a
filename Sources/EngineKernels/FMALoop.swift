/// Twelve independent multiply-add chains of vector `V`: the most floating-point work a core
/// does per cycle, the yardstick `OpProfile` tables measure kernels against.
public enum FMALoop<V: SIMD> where V.Scalar == Float {
    /// Runs `iterations` rounds of 12 vector FMAs; returns a value that depends on all of them
    /// (so none is optimised away).
    @inlinable
    public static func run(iterations: Int) -> Float {
        let b = V(repeating: 0.999_999), c = V(repeating: 1e-7)
        var a0 = V(repeating: 1), a1 = V(repeating: 2), a2 = V(repeating: 3), a3 = V(repeating: 4)
        var a4 = V(repeating: 5), a5 = V(repeating: 6), a6 = V(repeating: 7), a7 = V(repeating: 8)
        var a8 = V(repeating: 9), a9 = V(repeating: 10), a10 = V(repeating: 11), a11 = V(repeating: 12)
        for _ in 0..<iterations {
            a0 = c.addingProduct(a0, b); a1 = c.addingProduct(a1, b); a2 = c.addingProduct(a2, b)
            a3 = c.addingProduct(a3, b); a4 = c.addingProduct(a4, b); a5 = c.addingProduct(a5, b)
            a6 = c.addingProduct(a6, b); a7 = c.addingProduct(a7, b); a8 = c.addingProduct(a8, b)
            a9 = c.addingProduct(a9, b); a10 = c.addingProduct(a10, b); a11 = c.addingProduct(a11, b)
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
    }
}

/// `FMALoop` 8 wide, for AVX2 + FMA.
public enum FMALoopAVX2 {
    /// Floating-point operations per round of `run`.
    public static let flopsPerIteration = 12 * 2 * 8
    public static func run(iterations: Int) -> Float { FMALoop<SIMD8<Float>>.run(iterations: iterations) }
}
