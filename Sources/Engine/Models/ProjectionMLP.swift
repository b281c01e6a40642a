extension Sequential {
    /// The projection and prediction MLPs of MoCo v3 (`moco/builder.py`'s `_build_mlp`, after
    /// SimCLR and BYOL): `layers` Linear layers without bias, each but the last followed by
    /// BatchNorm and ReLU, the last by a BatchNorm without affine when `lastBatchNorm`. The
    /// reference's names: `0` Linear, `1` BatchNorm, (`2` ReLU), `3` Linear, `4` BatchNorm, …
    ///
    ///     let projector = Sequential.projectionMLP(layers: 3, input: 96, hidden: 512, output: 128, rng: &rng)
    public static func projectionMLP(layers: Int, input: Int, hidden: Int, output: Int, lastBatchNorm: Bool = true,
                                     rng: inout RandomGenerator) -> Sequential {
        precondition(layers >= 1 && input >= 1 && hidden >= 1 && output >= 1, "projectionMLP: \(layers) layers \(input)→\(hidden)→\(output)")
        var modules: [any Module] = []
        for l in 0..<layers {
            let (from, to) = (l == 0 ? input : hidden, l == layers - 1 ? output : hidden)
            modules.append(Linear(from, to, bias: false, rng: &rng))
            if l < layers - 1 {
                modules += [BatchNorm(to), ReLU()]
            } else if lastBatchNorm {
                modules.append(BatchNorm(to, affine: false))
            }
        }
        return Sequential(modules)
    }
}
