/// Clipping by the global norm, as `torch.nn.utils.clip_grad_norm_`: with ‖g‖ the 2-norm of
/// every gradient together, each gradient is scaled by min(1, maxNorm / (‖g‖ + 1e-6)).
///
/// Run on the reduced gradients, which are the same bits on every rank, so every rank
/// computes the same norm and scales alike. The norm is summed in double, in parameter order.
public enum GradientClipping {
    /// The global norm of the gradients of `parameters` (those without one count as zero).
    public static func globalNorm(_ parameters: [Tensor]) -> Double {
        var squares = 0.0
        for p in parameters { if let g = p.grad { for i in 0..<g.count { squares += Double(g.data[i]) * Double(g.data[i]) } } }
        return squares.squareRoot()
    }

    /// Scales the gradients down to a global norm of at most `maxNorm`; returns the norm
    /// before clipping.
    @discardableResult
    public static func clip(_ parameters: [Tensor], maxNorm: Double) -> Double {
        let norm = globalNorm(parameters)
        let coefficient = Float(min(1, maxNorm / (norm + 1e-6)))
        guard coefficient < 1 else { return norm }
        for p in parameters { if let g = p.grad { for i in 0..<g.count { g.data[i] *= coefficient } } }
        return norm
    }
}
