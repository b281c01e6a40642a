import Engine
import Foundation
import Methods
import Training

/// Self-supervised model golden cases: each runs the step its method trains with.
enum GoldenSelfSupervisedCases {
    /// `moco_v3_step`: one MoCo v3 step (moco-v3's `MoCo_ViT`) on one process from a given
    /// state — both logits, the loss, the base encoder's and predictor's gradients, and
    /// afterwards every parameter and batch-norm buffer of the three networks.
    static func mocoV3Step(_ c: GoldenCase) throws -> [(String, Tensor, Tensor)] {
        let x1 = try c.tensor("in.x1"), x2 = try c.tensor("in.x2")
        let shape = VisionTransformer.Shape(
            imageSize: try c.attr("img"), channels: try c.attr("in_chans", default: x1.shape[1]), patch: try c.attr("patch"),
            dim: try c.attr("dim"), depth: try c.attr("depth"), heads: try c.attr("heads"), mlpRatio: try c.attr("mlp_ratio"),
            classes: 0, pooling: .token, eps: try c.attr("eps", default: 1e-6))
        var rng = RandomGenerator(seed: 0)
        let model = MoCoV3Model.vit(shape, mlpDim: try c.attr("mlp_dim"), dim: try c.attr("out_dim"), temperature: try c.attr("T"), rng: &rng)
        let networks: [(String, any Module)] = [("base_encoder.", model.baseEncoder), ("momentum_encoder.", model.momentumEncoder),
                                                ("predictor.", model.predictor)]
        for (prefix, network) in networks {
            var state: [String: Tensor] = [:]
            for n in c.names(withPrefix: "param." + prefix) { state[n] = try c.tensor("param." + prefix + n) }
            for n in c.names(withPrefix: "buffer." + prefix) { state[n] = try c.tensor("buffer." + prefix + n) }
            try network.load(state: state)
        }
        let bnMomentum: Float = try c.attr("bn_momentum", default: 0.1), bnEps: Float = try c.attr("bn_eps", default: 1e-5)
        for (_, network) in networks {
            network.train()
            for bn in network.layers(of: BatchNorm.self) { bn.momentum = bnMomentum; bn.eps = bnEps }
        }
        let betas = try c.attr("betas", as: [NSNumber].self).map(\.floatValue)
        guard betas.count == 2 else { throw GoldenError("\(c.name): attribute 'betas' needs two numbers") }
        let opt = AdamW(groups: try GoldenTransformerCases.decayGroups(c, model.trainedParameters), lr: try c.attr("lr"),
                        beta1: betas[0], beta2: betas[1], eps: try c.attr("adam_eps", default: 1e-8))
        Autograd.reset()
        opt.zeroGrad()
        let step = model.forward(x1, x2, momentum: try c.attr("m"))
        step.loss.backward()
        var comparisons: [(String, Tensor, Tensor)] = [
            ("out.loss", Tensor(shape: [1], values: [step.loss.item]), try c.tensor("out.loss")),
            ("out.logits1", step.logits1, try c.tensor("out.logits1")), ("out.logits2", step.logits2, try c.tensor("out.logits2")),
        ]
        for (name, p) in model.trainedParameters where c.has("grad.param." + name) {
            comparisons.append(("grad.param." + name, p.grad ?? Tensor.zeros(p.shape), try c.tensor("grad.param." + name)))
        }
        opt.step()
        for (prefix, network) in networks {
            for (name, p) in network.namedParameters(prefix: prefix) { comparisons.append(("after.param." + name, p, try c.tensor("after.param." + name))) }
            for (name, b) in network.namedBuffers(prefix: prefix) { comparisons.append(("after.buffer." + name, b, try c.tensor("after.buffer." + name))) }
        }
        return comparisons
    }

    /// `mae_step`: one MAE step (facebookresearch/mae's `MaskedAutoencoderViT`, norm_pix_loss)
    /// with the case's masking noise — the predictions, the mask and the loss, every
    /// gradient, and the parameters after one AdamW step (the position tables unchanged).
    static func maeStep(_ c: GoldenCase) throws -> [(String, Tensor, Tensor)] {
        let images = try c.tensor("in.images"), noise = try c.tensor("in.noise")
        let shape = VisionTransformer.Shape(
            imageSize: try c.attr("img"), channels: try c.attr("in_chans", default: images.shape[1]), patch: try c.attr("patch"),
            dim: try c.attr("dim"), depth: try c.attr("depth"), heads: try c.attr("heads"), mlpRatio: try c.attr("mlp_ratio"),
            classes: 0, pooling: .token, eps: try c.attr("eps", default: 1e-6), positions: .sincos)
        var rng = RandomGenerator(seed: 0)
        let model = MAEModel.make(shape, decoderDim: try c.attr("decoder_dim"), decoderDepth: try c.attr("decoder_depth"),
                                  decoderHeads: try c.attr("decoder_heads"), maskRatio: try c.attr("mask_ratio"),
                                  normPixLoss: try c.attr("norm_pix_loss", default: true), rng: &rng)
        guard model.keep == (try c.attr("len_keep") as Int) else { throw GoldenError("\(c.name): len_keep differs from int(L·(1 − mask_ratio))") }
        var state: [String: Tensor] = [:]
        for n in c.names(withPrefix: "param.") { state[n] = try c.tensor("param." + n) }
        for n in c.names(withPrefix: "buffer.") { state[n] = try c.tensor("buffer." + n) }
        try Tensor.load(state, into: model.namedParameters + model.namedBuffers)
        model.encoder.train()
        model.decoder.train()
        let betas = try c.attr("betas", as: [NSNumber].self).map(\.floatValue)
        guard betas.count == 2 else { throw GoldenError("\(c.name): attribute 'betas' needs two numbers") }
        let opt = AdamW(groups: try GoldenTransformerCases.decayGroups(c, model.namedParameters), lr: try c.attr("lr"),
                        beta1: betas[0], beta2: betas[1], eps: try c.attr("adam_eps", default: 1e-8))
        Autograd.reset()
        opt.zeroGrad()
        let step = model.forward(images, noise: noise.values)
        step.loss.backward()
        var comparisons: [(String, Tensor, Tensor)] = [
            ("out.loss", Tensor(shape: [1], values: [step.loss.item]), try c.tensor("out.loss")),
            ("out.pred", step.prediction, try c.tensor("out.pred")), ("out.mask", step.mask, try c.tensor("out.mask")),
        ]
        for (name, p) in model.namedParameters where c.has("grad.param." + name) {
            comparisons.append(("grad.param." + name, p.grad ?? Tensor.zeros(p.shape), try c.tensor("grad.param." + name)))
        }
        opt.step()
        for (name, p) in model.namedParameters { comparisons.append(("after.param." + name, p, try c.tensor("after.param." + name))) }
        for (name, b) in model.namedBuffers { comparisons.append(("after.buffer." + name, b, try c.tensor("after.buffer." + name))) }
        return comparisons
    }
}
