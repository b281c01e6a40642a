import Engine

/// MoCo's dictionary: the last K keys (L2-normalised, `dim` values each) as a ring buffer,
/// the negatives every query is contrasted with.
///
/// Any K works: a batch of keys is written from `pointer` on and wraps around the end (the
/// reference implementation asserts K % batch == 0 and fails on a partial last batch). A
/// batch larger than K keeps its last K keys. Every rank enqueues the same all-gathered keys,
/// so every rank holds the same queue.
///
/// ```swift
/// let queue = ContrastiveQueue(capacity: 4096, dim: 128, rng: &rng)
/// queue.enqueue(keys)   // keys: [N, 128], already normalised
/// ```
public final class ContrastiveQueue {
    /// The keys, one per row. keys: [K, dim]
    public let keys: Tensor
    /// Row the next key is written to, in 0..<K.
    public private(set) var pointer: Int

    /// Number of keys held (K).
    public var capacity: Int { keys.shape[0] }
    /// Values per key.
    public var dim: Int { keys.shape[1] }

    /// A queue of random unit vectors, as the reference starts it.
    public init(capacity: Int, dim: Int, rng: inout RandomGenerator) {
        precondition(capacity >= 1 && dim >= 1, "ContrastiveQueue: capacity \(capacity), dim \(dim)")
        keys = Autograd.noGrad { Tensor.randn([capacity, dim], rng: &rng).l2Normalized(dim: 1) }
        pointer = 0
    }

    /// A queue restored from saved keys [K, dim] and pointer (a checkpoint, a reference case).
    public init(keys: Tensor, pointer: Int) throws {
        guard keys.rank == 2, keys.shape[0] >= 1, keys.shape[1] >= 1 else {
            throw ContrastiveQueueError("queue keys must be [K, dim] with K, dim ≥ 1, got \(keys.shape)")
        }
        guard (0..<keys.shape[0]).contains(pointer) else {
            throw ContrastiveQueueError("queue pointer \(pointer) is outside 0..<\(keys.shape[0])")
        }
        self.keys = keys.copy()
        self.pointer = pointer
    }

    /// Moves the write position to `pointer` (restoring a checkpoint whose keys were loaded
    /// into `keys`).
    public func restore(pointer: Int) throws {
        guard (0..<capacity).contains(pointer) else {
            throw ContrastiveQueueError("queue pointer \(pointer) is outside 0..<\(capacity)")
        }
        self.pointer = pointer
    }

    /// Writes the rows of `batch` [N, dim] from `pointer` on, wrapping around, and moves the
    /// pointer past them.
    public func enqueue(_ batch: Tensor) {
        precondition(batch.rank == 2 && batch.shape[1] == dim, "enqueue: keys \(batch.shape) for a queue of dim \(dim)")
        let n = batch.shape[0], k = capacity
        let skipped = max(0, n - k)   // only the last K of an oversized batch survive
        for row in skipped..<n {
            (keys.data + ((pointer + row) % k) * dim).update(from: batch.data + row * dim, count: dim)
        }
        pointer = (pointer + n) % k
    }
}

/// A queue that cannot be restored as given.
public struct ContrastiveQueueError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
