/// Multi-layer perceptron on flattened inputs: `Sequential(Flatten, Linear, ReLU, …, Linear)`,
/// named like the PyTorch `nn.Sequential` it mirrors (`1.weight`, `3.weight`, …).
///
/// ```swift
/// let mlp = MLP.make(inputs: 784, hidden: [1024, 1024], outputs: 10, rng: &rng)
/// ```
public enum MLP {
    public static func make(inputs: Int, hidden: [Int], outputs: Int, dropout: Float = 0,
                            rng: inout RandomGenerator) -> Sequential {
        var layers: [any Module] = [Flatten()]
        var width = inputs
        for h in hidden {
            layers.append(Linear(width, h, rng: &rng))
            layers.append(ReLU())
            if dropout > 0 { layers.append(Dropout(p: dropout, seed: rng.next())) }
            width = h
        }
        layers.append(Linear(width, outputs, rng: &rng))
        return Sequential(layers)
    }
}
