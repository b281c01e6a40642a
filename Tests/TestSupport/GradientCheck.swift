import Engine
import XCTest

/// Compares autograd gradients with central finite differences.
///
/// `f` maps the inputs to one output tensor; the check differentiates
/// L = Σ f(inputs) ⊙ G for a fixed random G, so every output element matters. Up to
/// `samples` elements of each differentiable input are perturbed by ±`eps`.
public func checkGradients(
    _ inputs: [Tensor], eps: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3, samples: Int = 40,
    seed: UInt64 = 7, file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor
) {
    var rng = RandomGenerator(seed: seed)
    for t in inputs { t.grad = nil }
    let out = f(inputs)
    let upstream = Tensor.randn(out.shape, rng: &rng)
    (out * upstream).sum().backward()
    let analytic = inputs.map { $0.grad?.values }

    func objective() -> Double {
        Autograd.noGrad {
            let o = f(inputs)
            var s: Double = 0
            for i in 0..<o.count { s += Double(o[flat: i]) * Double(upstream[flat: i]) }
            return s
        }
    }

    for (k, t) in inputs.enumerated() where t.requiresGrad {
        guard let grad = analytic[k] else {
            XCTFail("input \(k) received no gradient", file: file, line: line)
            continue
        }
        let picks = t.count <= samples ? Array(0..<t.count) : (0..<samples).map { _ in rng.int(below: t.count) }
        var numeric: [Float] = [], symbolic: [Float] = []
        for i in picks {
            let saved = t[flat: i]
            t[flat: i] = saved + eps
            let up = objective()
            t[flat: i] = saved - eps
            let down = objective()
            t[flat: i] = saved
            numeric.append(Float((up - down) / Double(2 * eps)))
            symbolic.append(grad[i])
        }
        assertClose(symbolic, numeric, rtol: rtol, atol: atol, "gradient of input \(k)", file: file, line: line)
    }
}
