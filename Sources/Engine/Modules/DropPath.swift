/// Where a replica's images sit in the global batch: local image i is at global position
/// i·replicas + rank, the sharded sampler's layout (rank r takes the positions ≡ r mod w).
public struct SamplePositions: Equatable, Sendable {
    public let rank: Int
    public let replicas: Int

    /// One process holding the whole batch.
    public static let singleProcess = SamplePositions(rank: 0, replicas: 1)

    public init(rank: Int, replicas: Int) {
        precondition(replicas >= 1 && (0..<replicas).contains(rank), "SamplePositions: rank \(rank) of \(replicas)")
        self.rank = rank
        self.replicas = replicas
    }

    /// Global position of local image `index`.
    @inlinable public func global(_ index: Int) -> Int { index * replicas + rank }
}

/// Stochastic depth (timm's `DropPath`): in training, each image's residual branch is
/// dropped with probability p and kept ones are scaled by 1/(1 − p); identity in eval.
///
/// Each training forward draws one key from the layer's stream — the same on every rank —
/// and image g of the global batch keeps its branch when a draw seeded by (key, g) is below
/// 1 − p, so N ranks drop exactly the images one process with the whole batch would, and a
/// resumed run (the stream is checkpointed) drops what the uninterrupted one would.
public final class DropPath: Module, RandomStreamLayer {
    public let p: Float
    public var rng: RandomGenerator
    /// Set by `Module.setSamplePositions` (the replica's rank and count).
    public var positions = SamplePositions.singleProcess
    public var isTraining = true

    public init(p: Float, seed: UInt64) {
        precondition(p >= 0 && p < 1, "DropPath: probability \(p) must be in [0, 1)")
        self.p = p
        rng = RandomGenerator(seed: seed)
    }

    /// x: [N, …] → [N, …].
    public func forward(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return x }
        let key = rng.next(), keep = 1 - p
        let factors: [Float] = (0..<x.shape[0]).map { i in
            var draw = RandomGenerator(seed: key, stream: UInt64(positions.global(i)))
            return draw.uniform() < keep ? 1 / keep : 0
        }
        return x.scalingEachImage(by: factors)
    }
}

extension Module {
    /// Tells every stochastic-depth layer where this replica's images sit in the global batch.
    public func setSamplePositions(_ positions: SamplePositions) {
        for layer in layers(of: DropPath.self) { layer.positions = positions }
    }
}
