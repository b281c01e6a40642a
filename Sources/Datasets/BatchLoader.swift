import Engine
import Foundation

/// Yields one epoch of batches, preparing the next batch on a background thread while the
/// caller trains on the current one.
///
/// The output — including every random flip and crop — is exactly what building the batches
/// one after another on the calling thread would give (`makeBatch` in a loop with one
/// generator): a single worker thread builds the batches in order and owns the augmentation
/// generator, so its draws happen in batch order. At most `prefetch` finished batches wait in
/// the queue, bounding memory.
///
/// ```swift
/// let sampler = ShardedSampler(datasetCount: train.count, rank: r, worldSize: w, seed: 1, epoch: e)
/// let loader = BatchLoader(dataset: train, sampler: sampler, batchSize: 128, rng: rng)
/// for batch in loader { … }          // batch.images: [128, 1, 28, 28]
/// rng = loader.randomState           // continue the stream next epoch / save it in a checkpoint
/// ```
///
/// Checkpointing mid-epoch: save `batchesDelivered` and `randomState`; a loader created with
/// `startBatch: batchesDelivered, rng: randomState` continues with the same batches.
///
/// Single consumer: call `next()` from one thread at a time. Stopping early (breaking out of
/// the loop and dropping the loader, or calling `stop()`) ends and joins the worker thread.
/// The worker only creates tensors without gradients, so it never touches the autograd tape.
public final class BatchLoader: Sequence, IteratorProtocol {
    /// Number of batches in the whole epoch (including any skipped by `startBatch`).
    public let batchCount: Int
    /// Position in the epoch of the next batch `next()` returns: `startBatch` plus batches delivered.
    public private(set) var batchesDelivered: Int
    /// The augmentation generator after the last batch `next()` returned (the initial state
    /// before the first). After the epoch it equals the synchronous path's final state.
    public private(set) var randomState: RandomGenerator

    /// Name of the worker thread (as seen in `/proc/self/task/*/comm`).
    public static let threadName = "concord-loader"

    private let channel: Channel?
    private var synchronous: SynchronousSource?

    /// Creates a loader over explicit batches of data-set indices and starts preparing them.
    ///
    /// - Parameters:
    ///   - batches: data-set indices of each batch of the epoch, in order.
    ///   - augmentation: normalisation constants and the flip/crop settings (default: the
    ///     data set's normalisation, flip and a crop after padding 2).
    ///   - augment: flip and crop randomly (training); `false` only normalises and draws nothing.
    ///   - views: when set, every batch holds two views of each image drawn with it
    ///     (`images` and `secondView`; contrastive training) instead of `augmentation`'s one.
    ///   - rng: augmentation generator state at batch `startBatch`.
    ///   - startBatch: first batch to produce (resuming mid-epoch); earlier ones are skipped
    ///     without drawing.
    ///   - prefetch: finished batches allowed to wait (1–2 is plenty); 0 builds each batch
    ///     on the calling thread inside `next()`, with no worker thread.
    public init(dataset: ImageDataset, batches: [[Int]], augmentation: Augmentation? = nil,
                augment: Bool, views: ContrastiveAugmentation? = nil, rng: RandomGenerator, startBatch: Int = 0,
                prefetch: Int = 2) {
        precondition((0...batches.count).contains(startBatch), "startBatch \(startBatch) of \(batches.count)")
        precondition(prefetch >= 0, "prefetch \(prefetch)")
        for batch in batches {
            precondition(batch.allSatisfy { (0..<dataset.count).contains($0) },
                         "batch index outside 0..<\(dataset.count)")
        }
        self.batchCount = batches.count
        self.batchesDelivered = startBatch
        self.randomState = rng

        let source = SynchronousSource(dataset: dataset, batches: batches,
                                       augmentation: augmentation ?? Augmentation(mean: dataset.mean, std: dataset.std),
                                       augment: augment, views: views, rng: rng, position: startBatch)
        if prefetch == 0 {
            self.channel = nil
            self.synchronous = source
        } else {
            let channel = Channel(capacity: prefetch)
            self.channel = channel
            self.synchronous = nil
            let thread = Thread {
                // Named so a debugger, `top -H` or a test can tell it apart. Foundation's
                // Thread.name does not always reach the OS on Linux; writing the calling thread's
                // /proc comm entry (≤ 15 bytes) does.
                Thread.current.name = BatchLoader.threadName
                #if os(Linux)
                if let comm = fopen("/proc/thread-self/comm", "w") {
                    fputs(BatchLoader.threadName, comm)
                    fclose(comm)
                }
                #endif
                var source = source
                while let produced = source.next() {
                    guard channel.put(produced) else { break }
                }
                channel.finish()
            }
            thread.start()
        }
    }

    /// Creates a loader over this rank's share of an epoch.
    /// - Parameters:
    ///   - dropLast: drop the last, shorter batch (training keeps batch-norm statistics and
    ///     step counts uniform).
    public convenience init(dataset: ImageDataset, sampler: ShardedSampler, batchSize: Int,
                            dropLast: Bool = true, augmentation: Augmentation? = nil,
                            augment: Bool = true, views: ContrastiveAugmentation? = nil, rng: RandomGenerator,
                            startBatch: Int = 0, prefetch: Int = 2) {
        precondition(sampler.datasetCount == dataset.count,
                     "sampler over \(sampler.datasetCount) examples, data set has \(dataset.count)")
        self.init(dataset: dataset, batches: sampler.batches(batchSize: batchSize, dropLast: dropLast),
                  augmentation: augmentation, augment: augment, views: views, rng: rng, startBatch: startBatch,
                  prefetch: prefetch)
    }

    /// An evaluation loader: natural order, no augmentation, every example once across the
    /// ranks (rank `r` takes `r, r + w, …`), last batch kept.
    public static func evaluation(dataset: ImageDataset, rank: Int = 0, worldSize: Int = 1, batchSize: Int,
                                  augmentation: Augmentation? = nil, prefetch: Int = 2) -> BatchLoader {
        let sampler = ShardedSampler(datasetCount: dataset.count, rank: rank, worldSize: worldSize, seed: 0,
                                     shuffle: false, dropTail: false)
        return BatchLoader(dataset: dataset, sampler: sampler, batchSize: batchSize, dropLast: false,
                           augmentation: augmentation, augment: false, rng: RandomGenerator(seed: 0),
                           prefetch: prefetch)
    }

    deinit { stop() }

    /// The next batch, waiting for the worker if it is not ready; `nil` after the last one
    /// or after `stop()`.
    public func next() -> Batch? {
        let produced: Produced?
        if let channel {
            produced = channel.take()
            if produced == nil { channel.join() }
        } else {
            produced = synchronous?.next()
        }
        guard let produced else { return nil }
        batchesDelivered += 1
        randomState = produced.rngAfter
        return produced.batch
    }

    /// Stops producing, drops prepared batches and joins the worker. Idempotent; `next()`
    /// returns `nil` afterwards. `randomState` keeps the state after the last delivered batch.
    public func stop() {
        channel?.cancel()
        channel?.join()
        synchronous = nil
    }

    /// Builds one batch on the calling thread: gathers `indices`, normalises, and augments
    /// each image in order (three draws from `rng` per image) when `augment` is set.
    public static func makeBatch(dataset: ImageDataset, indices: [Int], position: Int,
                                 augmentation: Augmentation, augment: Bool,
                                 rng: inout RandomGenerator) -> Batch {
        let (c, h, w) = (dataset.channels, dataset.height, dataset.width)
        let pixels = dataset.pixelsPerImage
        let images = Tensor(uninitializedShape: [indices.count, c, h, w])  // images: [B, C, H, W]
        let out = images.data
        dataset.images.withUnsafeBufferPointer { all in
            let base = all.baseAddress!  // all: [N, C, H, W]
            for (i, index) in indices.enumerated() {
                let source = base + index * pixels
                if augment {
                    augmentation.augment(source, channels: c, height: h, width: w, into: out + i * pixels, rng: &rng)
                } else {
                    augmentation.normalize(source, channels: c, planeSize: h * w, into: out + i * pixels)
                }
            }
        }
        let labels = dataset.labels.withUnsafeBufferPointer { all in indices.map { all[$0] } }
        return Batch(images: images, labels: labels, indices: indices, position: position)
    }

    /// Builds one two-view batch on the calling thread: for each image in order, its first
    /// view then its second, both drawn from `rng` with `views`.
    public static func makeTwoViewBatch(dataset: ImageDataset, indices: [Int], position: Int,
                                        views: ContrastiveAugmentation, rng: inout RandomGenerator) -> Batch {
        let (c, h, w) = (dataset.channels, dataset.height, dataset.width)
        let pixels = dataset.pixelsPerImage
        let first = Tensor(uninitializedShape: [indices.count, c, h, w])   // first: [B, C, H, W]
        let second = Tensor(uninitializedShape: [indices.count, c, h, w])  // second: [B, C, H, W]
        dataset.images.withUnsafeBufferPointer { all in
            let base = all.baseAddress!  // all: [N, C, H, W]
            for (i, index) in indices.enumerated() {
                views.augment(base + index * pixels, channels: c, height: h, width: w, into: first.data + i * pixels, rng: &rng)
                views.augment(base + index * pixels, channels: c, height: h, width: w, into: second.data + i * pixels, rng: &rng)
            }
        }
        let labels = dataset.labels.withUnsafeBufferPointer { all in indices.map { all[$0] } }
        return Batch(images: first, labels: labels, indices: indices, position: position, secondView: second)
    }
}

/// A batch plus the generator state right after building it, so the consumer can report the
/// state that matches what it has actually received rather than how far the worker ran ahead.
private struct Produced {
    let batch: Batch
    let rngAfter: RandomGenerator
}

/// Builds the batches in order; used on the worker thread or directly (`prefetch: 0`).
private struct SynchronousSource: @unchecked Sendable {
    // Sendable by hand: it moves to the worker thread once and is only used there afterwards.
    let dataset: ImageDataset
    let batches: [[Int]]
    let augmentation: Augmentation
    let augment: Bool
    let views: ContrastiveAugmentation?
    var rng: RandomGenerator
    var position: Int

    mutating func next() -> Produced? {
        guard position < batches.count else { return nil }
        let batch = if let views {
            BatchLoader.makeTwoViewBatch(dataset: dataset, indices: batches[position], position: position, views: views, rng: &rng)
        } else {
            BatchLoader.makeBatch(dataset: dataset, indices: batches[position], position: position,
                                  augmentation: augmentation, augment: augment, rng: &rng)
        }
        position += 1
        return Produced(batch: batch, rngAfter: rng)
    }
}

/// The bounded hand-over between the worker and the consumer.
///
/// The worker thread holds only this object (never the `BatchLoader`), so dropping the loader
/// runs its `deinit`, which cancels and joins the worker even while it waits for room.
private final class Channel: @unchecked Sendable {
    // Sendable by hand: every mutable field is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Produced] = []
    private var finished = false
    private var cancelled = false
    private var joined = false
    private let capacity: Int
    private let exited = DispatchSemaphore(value: 0)

    init(capacity: Int) { self.capacity = capacity }

    /// Worker: waits for room; returns false if the consumer has cancelled.
    func put(_ item: Produced) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        queue.append(item)
        condition.broadcast()
        return true
    }

    /// Worker: no more batches. The last thing the thread does, so `join` can wait for it.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
        exited.signal()
    }

    /// Consumer: the next item, or nil once the worker finished and the queue is empty.
    func take() -> Produced? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished && !cancelled { condition.wait() }
        guard !cancelled, !queue.isEmpty else { return nil }
        let item = queue.removeFirst()
        condition.broadcast()
        return item
    }

    /// Consumer: stop the worker and release the prepared batches' buffers.
    func cancel() {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: waits until the worker thread has left its loop (once; later calls return).
    func join() {
        condition.lock()
        let already = joined
        joined = true
        condition.unlock()
        if !already { exited.wait() }
    }
}
