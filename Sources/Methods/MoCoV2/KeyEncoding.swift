import Config
import Engine
import MPI

/// How MoCo's key batch passes through the key encoder so that its batch-norm statistics do
/// not give a query's positive away, and how every rank gets every rank's keys for the queue.
/// The MoCo step (`MoCoModel.forward`) is handed one; training builds it from `moco.*`, the
/// golden case uses `.local` in one process.
///
/// - `shuffle` (shuffle-BN, the reference's `_batch_shuffle_ddp`): the key images of all
///   ranks are gathered, permuted with rank 0's permutation (broadcast), each rank encodes
///   its slice of the permuted batch, and the keys are gathered and put back in image order.
///   Each slice is further split into `groups` groups for its statistics, so one process with
///   G groups computes its keys as G ranks would.
/// - `sync`: SyncBatchNorm in the key encoder (`Module.replicate`); each rank encodes its own
///   images.
/// - `local`: each rank's own statistics, as plain data-parallel BN would (the "cheating"
///   baseline), and the reference in one process.
///
/// The global batch is handled in position order — rank r's image i is global position
/// i·N + r, as the sharded sampler deals them — so the permutation, the groups and the order
/// keys are enqueued in are the same for N ranks × B and one process × N·B. The key encoder
/// sums each group's statistics as one of N·G replicas (`replicate(over:groupsPerRank:)`,
/// set when it is built), so one process with G groups gives the same bits as G ranks. The
/// permutation of iteration t is drawn from (seed, t), so a resumed run shuffles exactly as
/// the uninterrupted one did.
public struct KeyEncoding {
    public let mode: TrainConfig.KeyBatchNorm
    /// Groups of each rank's key batch (1 unless `mode` is `shuffle`).
    public let groups: Int
    public let world: Communicator
    /// The run's seed (`train.seed`), for the permutations.
    public let seed: UInt64

    public init(mode: TrainConfig.KeyBatchNorm, groups: Int = 1, world: Communicator, seed: UInt64) {
        self.mode = mode
        self.groups = mode == .shuffle ? groups : 1
        self.world = world
        self.seed = seed
    }

    /// This rank's keys ([B, dim], in its images' order) and every rank's keys in global
    /// position order ([N·B, dim]: what every rank enqueues), through `encoder`. Runs without
    /// recording.
    public func encode(_ images: Tensor, iteration: Int, with encoder: ResNet) throws -> (own: Tensor, all: Tensor) {
        try Autograd.noGrad {
            let b = images.shape[0]
            guard mode == .shuffle else {
                let own = Self.keys(images, encoder: encoder, groups: 1, order: [])   // own: [B, dim]
                return (own, try gatherByPosition(own))
            }
            let perm = try permutation(count: b * world.size, iteration: iteration)
            guard world.isDistributed else {
                let keys = Self.keys(images, encoder: encoder, groups: groups, order: perm)   // keys: [B, dim]
                return (keys, keys)
            }
            let all = try gatherByPosition(images)   // all: [N·B, C, H, W] in position order
            let plane = images.count / b
            let slice = Tensor(uninitializedShape: images.shape)   // slice: [B, C, H, W]
            for j in 0..<b {
                (slice.data + j * plane).update(from: all.data + perm[world.rank * b + j] * plane, count: plane)
            }
            let encoded = Self.keys(slice, encoder: encoder, groups: groups, order: Array(0..<b))   // encoded: [B, dim]
            let shuffled = try gatherRows(encoded)   // shuffled: [N·B, dim], row j is the key of position perm[j]
            let dim = encoded.shape[1]
            let keys = Tensor(uninitializedShape: [b * world.size, dim])   // keys: [N·B, dim] in position order
            for (j, position) in perm.enumerated() {
                (keys.data + position * dim).update(from: shuffled.data + j * dim, count: dim)
            }
            let own = Tensor(uninitializedShape: [b, dim])   // own: [B, dim], positions i·N + r
            for i in 0..<b {
                (own.data + i * dim).update(from: keys.data + (i * world.size + world.rank) * dim, count: dim)
            }
            return (own, keys)
        }
    }

    /// Normalised keys of `images` [N, C, H, W], in the images' order. With `groups` > 1,
    /// image `order[i]` goes to group i·groups / N and each group is encoded on its own, so its
    /// batch-norm statistics cover only that group (the key encoder's running statistics then
    /// move once per group).
    static func keys(_ images: Tensor, encoder: ResNet, groups: Int, order: [Int]) -> Tensor {
        guard groups > 1 else { return encoder(images).l2Normalized(dim: 1) }
        let n = images.shape[0], plane = images.count / max(n, 1)
        precondition(order.count == n && Set(order) == Set(0..<n), "MoCo key groups: order must be a permutation of 0..<\(n)")
        precondition(groups <= n, "MoCo key groups: \(groups) groups for \(n) images")
        var keys: Tensor?   // keys: [N, dim]
        for g in 0..<groups {
            let members = Array(order[(g * n / groups)..<((g + 1) * n / groups)])
            let batch = Tensor(uninitializedShape: [members.count] + Array(images.shape.dropFirst()))   // batch: [n_g, C, H, W]
            for (j, i) in members.enumerated() { (batch.data + j * plane).update(from: images.data + i * plane, count: plane) }
            let encoded = encoder(batch).l2Normalized(dim: 1)   // encoded: [n_g, dim]
            let dim = encoded.shape[1]
            let out = keys ?? Tensor(uninitializedShape: [n, dim])
            for (j, i) in members.enumerated() { (out.data + i * dim).update(from: encoded.data + j * dim, count: dim) }
            keys = out
        }
        return keys ?? encoder(images).l2Normalized(dim: 1)   // not reached: groups > 1 fills `keys`
    }

    /// Rank 0's permutation of 0..<count for `iteration`, broadcast to every rank.
    func permutation(count: Int, iteration: Int) throws -> [Int] {
        var rng = RandomGenerator(seed: seed, purpose: .keyShuffle, index: UInt64(iteration))
        var perm = world.rank == 0 ? rng.permutation(count).map(Int64.init) : [Int64](repeating: 0, count: count)
        if world.isDistributed { try perm.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) } }
        return perm.map(Int.init)
    }

    /// Every rank's rows of `t` [B, …], concatenated in rank order: [N·B, …].
    func gatherRows(_ t: Tensor) throws -> Tensor {
        guard world.isDistributed else { return t }
        let out = Tensor(uninitializedShape: [t.shape[0] * world.size] + Array(t.shape.dropFirst()))
        try world.allgather(UnsafeBufferPointer(start: t.data, count: t.count),
                            into: UnsafeMutableBufferPointer(start: out.data, count: out.count))
        return out
    }

    /// Every rank's rows of `t` [B, …] in global position order: rank r's row i at i·N + r.
    func gatherByPosition(_ t: Tensor) throws -> Tensor {
        guard world.isDistributed else { return t }
        let rankMajor = try gatherRows(t)
        let (b, n) = (t.shape[0], world.size)
        let row = t.count / max(b, 1)
        let out = Tensor(uninitializedShape: rankMajor.shape)
        for r in 0..<n {
            for i in 0..<b { (out.data + (i * n + r) * row).update(from: rankMajor.data + (r * b + i) * row, count: row) }
        }
        return out
    }
}
