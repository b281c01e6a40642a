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
/// - `sync`: SyncBatchNorm (set up by the objective); each rank encodes its own images.
/// - `local`: each rank's own statistics, as plain data-parallel BN would (the "cheating"
///   baseline).
///
/// The permutation of iteration t is drawn from (seed, t), so a resumed run shuffles exactly
/// as the uninterrupted one did.
struct KeyEncoding {
    let mode: TrainConfig.KeyBatchNorm
    let groups: Int
    let world: Communicator
    let seed: UInt64

    /// This rank's keys ([B, dim], in its images' order) and every rank's keys in rank order
    /// ([N·B, dim]: what every rank enqueues). Runs without recording.
    func encode(_ images: Tensor, iteration: Int, with model: MoCoModel) throws -> (own: Tensor, all: Tensor) {
        try Autograd.noGrad {
            let b = images.shape[0]
            guard mode == .shuffle else {
                let own = model.keys(images, .none)   // own: [B, dim]
                return (own, try gatherRows(own))
            }
            let perm = try permutation(count: b * world.size, iteration: iteration)
            guard world.isDistributed else {
                let keys = model.keys(images, groups > 1 ? .shuffled(groups: groups, order: perm) : .none)   // keys: [B, dim]
                return (keys, keys)
            }
            let all = try gatherRows(images)   // all: [N·B, C, H, W], rank r's images at rows r·B..<(r+1)·B
            let plane = images.count / b
            let slice = Tensor(uninitializedShape: images.shape)   // slice: [B, C, H, W]
            for j in 0..<b {
                let source = perm[world.rank * b + j]
                (slice.data + j * plane).update(from: all.data + source * plane, count: plane)
            }
            let encoded = model.keys(slice, groups > 1 ? .shuffled(groups: groups, order: Array(0..<b)) : .none)   // encoded: [B, dim]
            let shuffled = try gatherRows(encoded)   // shuffled: [N·B, dim], row j is the key of image perm[j]
            let dim = encoded.shape[1]
            let keys = Tensor(uninitializedShape: [b * world.size, dim])   // keys: [N·B, dim] in image order
            for (j, image) in perm.enumerated() {
                (keys.data + image * dim).update(from: shuffled.data + j * dim, count: dim)
            }
            let own = Tensor(uninitializedShape: [b, dim])   // own: [B, dim]
            own.data.update(from: keys.data + world.rank * b * dim, count: b * dim)
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
}
