/// Sums over the batch that do not depend on how the batch is split across processes.
///
/// The global batch is cut into `globalChunks` chunks by position (chunk j holds the positions
/// ≡ j mod K). A reduction sums each chunk's per-image values in position order, in double, and
/// combines the chunks with a fixed tree that splits on the lowest bit of the chunk index
/// first: S = S(even chunks) + S(odd chunks), recursively. With w ranks (w dividing K) taking
/// the positions ≡ r mod w — the sharded sampler's layout — rank r's images are exactly the
/// chunks ≡ r mod w, in the same order, so each rank computes one subtree over its K/w local
/// chunks (local image i is in local chunk i mod K/w), and the top of the tree is the sum
/// across ranks (for two ranks one addition, which is commutative). N ranks with batch B then
/// produce the same bits as one process with batch N·B.
///
/// A value, not a process setting: each layer that sums over its batch (`BatchNorm`,
/// `Conv2d`, `Linear`) holds the one it uses (`Module.setBatchReduction`), and the ops take it
/// as an argument, so two networks of one process can be split differently (MoCo's key
/// encoder encodes its batch in groups, as more ranks would).
///
/// ```swift
/// model.setBatchReduction(BatchReduction(replicas: world.size))
/// ```
public struct BatchReduction: Equatable, Sendable {
    /// Chunks of the global batch (a power of two; world sizes dividing it get identical results).
    public static let globalChunks = 8

    /// One process holding the whole batch.
    public static let singleProcess = BatchReduction(replicas: 1)

    /// Chunks of this replica's batch: `globalChunks / replicas` when that divides evenly.
    public let localChunks: Int

    /// The chunking of a batch that is one of `replicas` equal shares of the global batch
    /// (ranks, or ranks × groups); counts that do not divide `globalChunks` get no invariance.
    public init(replicas: Int) {
        localChunks = replicas >= 1 && Self.globalChunks % replicas == 0 ? Self.globalChunks / replicas : Self.globalChunks
    }

    /// Local chunk of the local image `index`.
    @inlinable public func chunk(of index: Int) -> Int { index % localChunks }

    /// Chunks a batch of `n` images fills.
    @inlinable public func chunks(images n: Int) -> Int { min(localChunks, max(n, 1)) }

    /// The local images of chunk `j` in a batch of `n`, in order.
    @inlinable public func images(inChunk j: Int, of n: Int) -> StrideTo<Int> { stride(from: j, to: n, by: localChunks) }

    /// Adds the chunk sums [chunks, size] with the lowest-bit-first tree; the total ends in
    /// the first `size` values.
    public static func combine(_ sums: UnsafeMutablePointer<Double>, chunks: Int, size: Int) {
        // Bottom-up form of S(set) = S(set's even members) + S(set's odd members): at each
        // level, member j absorbs member j + half.
        var count = chunks
        while count > 1 {
            let half = (count + 1) / 2
            for j in 0..<(count - half) {
                let dst = sums + j * size, src = sums + (j + half) * size
                for i in 0..<size { dst[i] += src[i] }
            }
            count = half
        }
    }

    /// Per-image contributions summed per local chunk, in image order, then combined by the
    /// tree: `body(image, chunkSums)` adds the image's values into the `size` sums of its chunk.
    public func sum(images n: Int, size: Int, _ body: (Int, UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        let chunks = chunks(images: n)
        return BufferPool.shared.withDoubles(chunks * size) { base in   // base: [chunks, size]
            for image in 0..<n { body(image, base + chunk(of: image) * size) }
            Self.combine(base, chunks: chunks, size: size)
            return Array(UnsafeBufferPointer(start: base, count: size))
        }
    }
}

/// A layer whose forward or backward pass sums over the images of its batch.
public protocol BatchReducing: AnyObject {
    /// How those sums are chunked (`BatchReduction.singleProcess` unless set).
    var reduction: BatchReduction { get set }
}

extension Module {
    /// Sets the chunking of every batch sum in this module and its descendants.
    public func setBatchReduction(_ reduction: BatchReduction) {
        for layer in layers(of: (any BatchReducing).self) { layer.reduction = reduction }
    }
}
