import Engine
import MPI

/// How MoCo's key batch passes through the key encoder so that its batch-norm statistics do
/// not give a query's positive away, and how every rank gets every rank's keys for the queue.
///
/// - `shuffle` (shuffle-BN, the reference's `_batch_shuffle_ddp`): the key images of all
///   ranks are gathered, permuted with rank 0's permutation (broadcast), each rank encodes
///   its slice of the permuted batch, and the keys are gathered and put back in image order.
///   Each slice is further split into `groups` groups for its statistics, so one process with
///   G groups computes its keys as G ranks would.
/// - `sync`: SyncBatchNorm in the key encoder (set up by the objective); each rank encodes
///   its own images.
/// - `local`: each rank's own statistics, as plain data-parallel BN would (the "cheating"
///   baseline).
///
/// The global batch is handled in position order — rank r's image i is global position
/// i·N + r, as the sharded sampler deals them — so the permutation, the groups and the order
/// keys are enqueued in are the same for N ranks × B and one process × N·B. Each group's
/// statistics are summed as `BatchReduction` would for N·G ranks, so one process with G groups
/// gives the same bits as G ranks. The permutation of iteration t is drawn from (seed, t), so
/// a resumed run shuffles exactly as the uninterrupted one did.
struct KeyEncoding {
    let mode: TrainConfig.KeyBatchNorm
    let groups: Int
    let world: Communicator
    let seed: UInt64

    /// This rank's keys ([B, dim], in its images' order) and every rank's keys in global
    /// position order ([N·B, dim]: what every rank enqueues). Runs without recording.
    func encode(_ images: Tensor, iteration: Int, with model: MoCoModel) throws -> (own: Tensor, all: Tensor) {
        try Autograd.noGrad {
            let b = images.shape[0]
            guard mode == .shuffle else {
                let own = model.keys(images, .none)   // own: [B, dim]
                return (own, try gatherByPosition(own))
            }
            let perm = try permutation(count: b * world.size, iteration: iteration)
            // Statistics per group as N·G ranks would sum them; back to N ranks' chunking after.
            BatchReduction.configure(worldSize: world.size * groups)
            defer { BatchReduction.configure(worldSize: world.size) }
            guard world.isDistributed else {
                let keys = model.keys(images, groups > 1 ? .shuffled(groups: groups, order: perm) : .none)   // keys: [B, dim]
                return (keys, keys)
            }
            let all = try gatherByPosition(images)   // all: [N·B, C, H, W] in position order
            let plane = images.count / b
            let slice = Tensor(uninitializedShape: images.shape)   // slice: [B, C, H, W]
            for j in 0..<b {
                (slice.data + j * plane).update(from: all.data + perm[world.rank * b + j] * plane, count: plane)
            }
            let encoded = model.keys(slice, groups > 1 ? .shuffled(groups: groups, order: Array(0..<b)) : .none)   // encoded: [B, dim]
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
