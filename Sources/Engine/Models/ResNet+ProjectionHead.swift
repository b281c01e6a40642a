extension ResNet {
    /// A CIFAR-style ResNet-(6n+2) trunk of the given width whose `fc` is a two-layer MLP
    /// projection head (`fc.0` Linear 4·width→hidden, ReLU, `fc.2` Linear hidden→dim), as
    /// MoCo v2's and SimCLR's encoders have; `features` is still the trunk's pooled output.
    public static func cifarEncoder(depth: Int, width: Int = 16, inputChannels: Int = 1, hidden: Int, dim: Int,
                                    rng: inout RandomGenerator) -> ResNet {
        let head = Sequential([Linear(4 * width, hidden, rng: &rng), ReLU(), Linear(hidden, dim, rng: &rng)])
        return ResNet.cifar(depth: depth, width: width, inputChannels: inputChannels, head: head, rng: &rng)
    }
}
