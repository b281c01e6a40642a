import Foundation

/// Recycles float buffers by element count, so a training step that repeats the same
/// shapes allocates nothing once the first step has filled the pool.
///
/// Buffers are 64-byte aligned (one cache line, one AVX-512 vector) and readable `slack`
/// floats past their end, so a register-tiled kernel may load (and store back unchanged) whole
/// vectors across the end of a matrix row (`TileGemmProblem`).
public final class BufferPool: @unchecked Sendable {
    /// Floats readable past the end of every buffer: a whole tile of the widest kernels (96)
    /// and a little more.
    public static let slack = 128

    /// The process-wide pool every `Tensor` draws from.
    public static let shared = BufferPool()

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private let lock = NSLock()
    private var liveBytesCounter = 0
    private var pooledBytesCounter = 0
    private var allocationsCounter = 0

    /// Number of `malloc`s made so far (steady-state training must not increase it).
    public var allocations: Int { lock.withLock { allocationsCounter } }
    /// Bytes handed out and not yet returned.
    public var liveBytes: Int { lock.withLock { liveBytesCounter } }
    /// Bytes held for reuse.
    public var pooledBytes: Int { lock.withLock { pooledBytesCounter } }

    /// Returns an uninitialised buffer of `count` floats. Debug builds fill it with NaN so a
    /// kernel that reads memory it did not write shows up in every test.
    public func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = takeUninitialized(count)
        #if DEBUG
        p.update(repeating: .nan, count: max(count, 1))
        #endif
        return p
    }

    private func takeUninitialized(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        lock.lock()
        liveBytesCounter += n * 4
        if var list = free[n], let p = list.popLast() {
            free[n] = list
            pooledBytesCounter -= n * 4
            lock.unlock()
            return p
        }
        allocationsCounter += 1
        lock.unlock()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (n + Self.slack) * 4, alignment: 64)
        // The slack is never used as a value (only loaded and stored back), but it must be defined memory.
        (raw + n * 4).initializeMemory(as: Float.self, repeating: 0, count: Self.slack)
        return raw.bindMemory(to: Float.self, capacity: n + Self.slack)
    }

    /// Gives a buffer obtained from `take(count)` back for reuse.
    public func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let n = max(count, 1)
        lock.lock()
        liveBytesCounter -= n * 4
        pooledBytesCounter += n * 4
        free[n, default: []].append(pointer)
        lock.unlock()
    }

    /// Runs `body` on `count` zeroed doubles drawn from the pool (as 2·count floats): the
    /// per-chunk sums of a batch reduction, megabytes for a large layer, which as a fresh
    /// array each call would be mapped and zero-filled page by page again every step.
    public func withDoubles<R>(_ count: Int, _ body: (UnsafeMutablePointer<Double>) throws -> R) rethrows -> R {
        let floats = take(2 * count)
        defer { give(floats, count: 2 * count) }
        let doubles = UnsafeMutableRawPointer(floats).bindMemory(to: Double.self, capacity: count)
        doubles.update(repeating: 0, count: count)
        defer { UnsafeMutableRawPointer(floats).bindMemory(to: Float.self, capacity: 2 * count) }
        return try body(doubles)
    }

    /// Frees every pooled buffer (live ones are untouched), so a phase with other shapes (an
    /// evaluation) does not stack its buffers on top of training's.
    public func drain() {
        lock.lock()
        let lists = free
        free = [:]
        pooledBytesCounter = 0
        lock.unlock()
        for (_, list) in lists { for p in list { UnsafeMutableRawPointer(p).deallocate() } }
    }
}

/// A reference-counted float buffer; returns its memory to the pool when released.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    init(count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(count)
    }

    deinit { BufferPool.shared.give(pointer, count: count) }
}
