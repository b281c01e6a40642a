import Engine
import Foundation

/// Evaluators for the single-op golden cases: each maps the case's inputs to named outputs.
enum GoldenOps {
    typealias Inputs = [String: Tensor]
    typealias Evaluator = (GoldenCase, Inputs) throws -> [String: Tensor]

    static let table: [String: Evaluator] = [
        "linear": { _, x in ["y": try need(x, "x").linear(weight: try need(x, "weight"), bias: x["bias"])] },
        "matmul": { _, x in ["y": try need(x, "a").matmul(try need(x, "b"))] },
        "conv2d": { c, x in
            ["y": try need(x, "x").conv2d(weight: try need(x, "weight"), bias: x["bias"],
                                 stride: try c.attr("stride", default: 1), padding: try c.attr("padding", default: 0))]
        },
        "batch_norm": { c, x in
            let rm = x["running_mean"]?.copy(), rv = x["running_var"]?.copy()
            let y = try need(x, "x").batchNorm(weight: x["weight"], bias: x["bias"], runningMean: rm, runningVar: rv,
                                      training: try c.attr("training"), momentum: try c.attr("momentum", default: 0.1),
                                      eps: try c.attr("eps", default: 1e-5))
            var out = ["y": y]
            if let rm, let rv { out["running_mean"] = rm; out["running_var"] = rv }
            return out
        },
        "relu": { _, x in ["y": try need(x, "x").relu()] },
        "max_pool2d": { c, x in
            let k: Int = try c.attr("kernel")
            guard try c.attr("padding", default: 0) <= k / 2 else { throw GoldenError("\(c.name): padding must be at most kernel / 2") }
            return ["y": try need(x, "x").maxPool2d(kernel: k, stride: try c.attr("stride", default: k),
                                                   padding: try c.attr("padding", default: 0))]
        },
        "avg_pool2d": { c, x in
            let k: Int = try c.attr("kernel")
            guard try c.attr("padding", default: 0) <= k / 2 else { throw GoldenError("\(c.name): padding must be at most kernel / 2") }
            return ["y": try need(x, "x").avgPool2d(kernel: k, stride: try c.attr("stride", default: k),
                                                   padding: try c.attr("padding", default: 0))]
        },
        "global_avg_pool2d": { _, x in ["y": try need(x, "x").globalAvgPool2d()] },
        "cross_entropy": { c, x in
            let reduction: String = try c.attr("reduction", default: "mean")
            guard reduction == "mean" else { throw GoldenUnsupported(reason: "cross_entropy reduction '\(reduction)'") }
            let targets = try c.ints("in.target")
            return ["loss": try need(x, "logits").crossEntropy(targets: targets, labelSmoothing: try c.attr("label_smoothing", default: 0))]
        },
        "log_softmax": { c, x in ["y": try need(x, "x").logSoftmax(dim: try c.attr("dim", default: -1))] },
        "l2_normalize": { c, x in
            ["y": try need(x, "x").l2Normalized(dim: try c.attr("dim", default: 1), eps: try c.attr("eps", default: 1e-12))]
        },
        "layer_norm": { c, x in ["y": try need(x, "x").layerNorm(weight: x["weight"], bias: x["bias"], eps: try c.attr("eps", default: 1e-5))] },
        "gelu": { c, x in
            let approximate: String = try c.attr("approximate", default: "none")
            guard approximate == "none" else { throw GoldenUnsupported(reason: "gelu approximate '\(approximate)' (exact GELU only)") }
            return ["y": try need(x, "x").gelu()]
        },
        "softmax": { c, x in ["y": try need(x, "x").softmax(dim: try c.attr("dim", default: -1))] },
        "scaled_dot_product_attention": { c, x in
            ["y": Tensor.scaledDotProductAttention(query: try need(x, "q"), key: try need(x, "k"), value: try need(x, "v"),
                                                   scale: c.attrs["scale"] == nil ? nil : try c.attr("scale") as Float)]
        },
        "multi_head_attention": { c, x in
            let layout: String = try c.attr("layout", default: "timm")
            guard layout == "timm" else { throw GoldenUnsupported(reason: "multi_head_attention layout '\(layout)' (timm only)") }
            // The module built on the case's tensors: their gradients are the module's.
            let attention = MultiHeadAttention(qkv: Linear(weight: try need(x, "qkv.weight"), bias: try need(x, "qkv.bias")),
                                               proj: Linear(weight: try need(x, "proj.weight"), bias: try need(x, "proj.bias")),
                                               heads: try c.attr("heads"))
            return ["y": attention(try need(x, "x"))]
        },
        "info_nce": { c, x in
            ["loss": try need(x, "q").infoNCE(keys: try need(x, "k"), queue: try need(x, "queue"), temperature: try c.attr("temperature")).loss]
        },
        "nt_xent": { c, x in
            let z = Tensor.concat([try need(x, "z1").l2Normalized(dim: 1), try need(x, "z2").l2Normalized(dim: 1)], dim: 0)
            return ["loss": z.ntXent(temperature: try c.attr("temperature"))]
        },
        "mse_masked": { c, x in
            ["loss": try need(x, "pred").maskedMSE(target: try need(x, "target"), mask: try need(x, "mask"),
                                                   normPixels: try c.attr("norm_pix", default: false))]
        },
    ]

    /// A required input, or an error naming it.
    static func need(_ x: Inputs, _ name: String) throws -> Tensor {
        guard let t = x[name] else { throw GoldenError("input 'in.\(name)' is missing from the case") }
        return t
    }

    /// Evaluates an op case: forward, then backward of Σ out ⊙ grad_out; returns
    /// (label, actual, expected) for every `out.*` and `grad.*` tensor in the case.
    static func run(_ c: GoldenCase, _ evaluate: Evaluator) throws -> [(String, Tensor, Tensor)] {
        var inputs: Inputs = [:]
        for name in c.names(withPrefix: "in.") {
            guard (try? c.file.dtype("in." + name))?.isInteger != true else { continue }   // labels are read as ints
            let t = try c.tensor("in." + name)
            t.requiresGrad = c.has("grad." + name)
            inputs[name] = t
        }
        Autograd.reset()
        let outputs = try evaluate(c, inputs)
        var comparisons: [(String, Tensor, Tensor)] = []
        var objective: Tensor?
        for name in c.names(withPrefix: "out.") {
            guard let actual = outputs[name] else { throw GoldenError("\(c.name): engine produced no output '\(name)'") }
            comparisons.append(("out." + name, actual, try c.tensor("out." + name)))
            if c.has("grad_out." + name), actual.requiresGrad {
                let term = (actual * (try c.tensor("grad_out." + name)).reshaped(actual.shape)).sum()
                objective = objective.map { $0 + term } ?? term
            }
        }
        let gradNames = c.names(withPrefix: "grad.")
        if !gradNames.isEmpty {
            guard let objective else { throw GoldenError("\(c.name): gradients expected but no differentiable output") }
            objective.backward()
            for name in gradNames {
                guard let g = inputs[name]?.grad else { throw GoldenError("\(c.name): no gradient reached input '\(name)'") }
                comparisons.append(("grad." + name, g, try c.tensor("grad." + name)))
            }
        }
        Autograd.reset()
        return comparisons
    }
}
