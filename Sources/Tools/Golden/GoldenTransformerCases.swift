import Engine
import Foundation
import Training

/// Transformer model golden cases.
enum GoldenTransformerCases {
    /// `vit_adamw_step`: timm's ViT trained for `steps` AdamW steps from a given state, with
    /// the no-weight-decay rule as a second parameter group; compares each step's loss, step
    /// 0's gradients and the final parameters.
    static func vitAdamWStep(_ c: GoldenCase) throws -> [(String, Tensor, Tensor)] {
        let images0 = try c.tensor("in.images.0")
        let shape = VisionTransformer.Shape(
            imageSize: try c.attr("img"), channels: try c.attr("in_chans", default: images0.shape[1]), patch: try c.attr("patch"),
            dim: try c.attr("dim"), depth: try c.attr("depth"), heads: try c.attr("heads"), mlpRatio: try c.attr("mlp_ratio"),
            classes: try c.attr("num_classes"), pooling: .token, eps: try c.attr("eps", default: 1e-6))
        var rng = RandomGenerator(seed: 0)
        let model = VisionTransformer(shape, rng: &rng)
        var state: [String: Tensor] = [:]
        for n in c.names(withPrefix: "param.") { state[n] = try c.tensor("param." + n) }
        try model.load(state: state)
        model.train()
        let betas = try c.attr("betas", as: [NSNumber].self).map(\.floatValue)
        guard betas.count == 2 else { throw GoldenError("\(c.name): attribute 'betas' needs two numbers") }
        let opt = AdamW(groups: try decayGroups(c, model.namedParameters()), lr: try c.attr("lr"),
                        beta1: betas[0], beta2: betas[1], eps: try c.attr("adam_eps", default: 1e-8))
        return try GoldenModelCases.classifierSteps(c, model: model, optimizer: opt)
    }

    /// The case's `no_weight_decay` rule (`suffix`, `contains`, `names`) as `optimizer.no_decay`
    /// globs: the decayed parameters, then the exempt ones.
    static func decayGroups(_ c: GoldenCase, _ named: [(String, Tensor)]) throws -> [ParameterGroup] {
        let wd: Float = try c.attr("weight_decay", default: 0)
        guard let rule = c.attrs["no_weight_decay"] as? [String: Any] else {
            return [ParameterGroup(name: "all", parameters: named, weightDecay: wd)]
        }
        let patterns = (rule["suffix"] as? [String] ?? []).map { "*" + $0 }
            + (rule["contains"] as? [String] ?? []).map { "*" + $0 + "*" }
            + (rule["names"] as? [String] ?? [])
        return ParameterPatterns.groups(named, weightDecay: wd, noDecayBNBias: false, lrScales: [], noDecay: patterns)
    }
}
