import Engine
import Foundation

/// Averages gradients across ranks the way PyTorch DDP does, with two guards DDP lacks.
///
/// Parameters are packed into buckets in reverse registration order (the order backward
/// produces their gradients) up to a size cap. Each parameter's `onGradReady` hook copies its
/// gradient into its bucket; a full bucket's allreduce starts at once, in bucket order on
/// every rank, while backward goes on. `finish()` waits for the rest, divides by the world
/// size and writes the averages back into `.grad`.
///
/// Buckets hold doubles: a gradient the engine summed over the batch in double
/// (`Tensor.gradPrecise`) is added across ranks before it is rounded to float, so N ranks
/// with batch B produce the same bits as one process with batch N·B (float gradients are
/// widened exactly; their two-rank sum rounds as a float sum would).
///
/// Guards:
/// - **Step fingerprint**: `beginStep` all-gathers (step, bucket count, element count,
///   micro-batches) on a communicator of its own. A rank that skipped or repeated a step's
///   collectives meets the others' fingerprint of a different step, and every rank throws a
///   `DistributedError` naming the ranks and steps instead of hanging.
/// - **Non-finite flag**: each bucket carries one extra value, 1 when this rank's gradients
///   in it are not all finite. The sums reach every rank with the gradients, so all ranks
///   agree to skip the same step (`ReduceResult.nonFinite`).
///
/// ```swift
/// let reducer = try GradientReducer(parameters: model.namedParameters(), communicator: world)
/// try reducer.synchronize(model.namedParameters() + model.namedBuffers())
/// try reducer.beginStep(iteration)
/// loss.backward()
/// let result = try reducer.finish()   // grads now hold the average over ranks
/// if !result.nonFinite { optimizer.step() }
/// ```
public final class GradientReducer {
    /// What one reduction found.
    public struct ReduceResult: Sendable {
        /// Whether any rank had a non-finite gradient (every rank sees the same value).
        public let nonFinite: Bool
        /// Whether this rank's own gradients were non-finite.
        public let nonFiniteHere: Bool
        /// Seconds `finish` spent waiting for communication backward did not hide.
        public let exposedSeconds: Double
    }

    struct Bucket {
        var parameters: [Int]        // indices into `parameters`
        var offsets: [Int]           // where each starts in `buffer`
        var count: Int               // gradient values (the flag follows them)
        var buffer: UnsafeMutableBufferPointer<Double>   // buffer: [count + 1]
        var filled = 0
        var request: AllreduceRequest?
    }

    /// The ranks gradients are averaged over.
    public let communicator: Communicator
    private let guardCommunicator: Communicator
    private let parameters: [(name: String, tensor: Tensor)]
    private var buckets: [Bucket]
    private var bucketOf: [(bucket: Int, slot: Int)]
    private var copied: [Bool]
    private var nextLaunch = 0
    private var armed = false
    private var localNonFinite = false
    private var fingerprintStep: Int64 = -1

    /// Number of buckets and their sizes in values, in launch order.
    public var bucketSizes: [Int] { buckets.map(\.count) }
    /// Buckets whose allreduce has started in the current step (for tests: all of them
    /// should start during backward, before `finish`).
    public var launchedBuckets: Int { nextLaunch }
    /// Reductions completed since creation: one per optimizer step, however many micro-batches.
    public private(set) var reductions = 0

    /// - Parameters:
    ///   - parameters: the trainable parameters with their names, in registration order.
    ///   - bucketCapBytes: a bucket closes once it holds this many bytes of float gradients
    ///     (they travel as doubles, twice that); a larger parameter gets a bucket of its own.
    public init(parameters: [(String, Tensor)], communicator: Communicator, bucketCapBytes: Int = 1 << 20) throws {
        precondition(bucketCapBytes > 0, "bucketCapBytes \(bucketCapBytes)")
        self.communicator = communicator
        self.guardCommunicator = try communicator.duplicate()
        self.parameters = parameters.map { (name: $0.0, tensor: $0.1) }
        var buckets: [Bucket] = []
        var bucketOf = [(bucket: Int, slot: Int)](repeating: (0, 0), count: parameters.count)
        var current: [Int] = [], offsets: [Int] = [], size = 0
        func close() {
            guard !current.isEmpty else { return }
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: size + 1)
            buffer.initialize(repeating: 0)
            buckets.append(Bucket(parameters: current, offsets: offsets, count: size, buffer: buffer))
            current = []; offsets = []; size = 0
        }
        for index in parameters.indices.reversed() {
            let n = parameters[index].1.count
            if !current.isEmpty && (size + n) * 4 > bucketCapBytes { close() }
            bucketOf[index] = (buckets.count, current.count)
            current.append(index); offsets.append(size); size += n
        }
        close()
        self.buckets = buckets
        self.bucketOf = bucketOf
        self.copied = [Bool](repeating: false, count: parameters.count)
        for (index, p) in self.parameters.enumerated() {
            p.tensor.onGradReady = { [unowned self] _ in self.gradientReady(index) }
        }
    }

    deinit {
        for p in parameters { p.tensor.onGradReady = nil }
        // A bucket whose allreduce never completed (an error stopped `finish`) may still be
        // written by MPI: it is left allocated rather than freed under MPI's feet.
        for b in buckets where b.request == nil { b.buffer.deallocate() }
    }

    /// Checks that every rank has the same tensors (names and shapes, in order), then copies
    /// rank 0's values to all: the replicas start identical.
    public func synchronize(_ tensors: [(String, Tensor)]) throws {
        let signature = tensors.map { "\($0.0):\($0.1.shape.map(String.init).joined(separator: "x"))" }.joined(separator: ",")
        let all = try guardCommunicator.allgather([Int64(bitPattern: StableHash.fnv1a64(signature)), Int64(tensors.count)])
        let differing = all.indices.filter { all[$0] != all[0] }
        if !differing.isEmpty {
            throw DistributedError("ranks \(differing.map(String.init).joined(separator: ", ")) have different parameter names or shapes than rank 0 (\(all[differing[0]][1]) vs \(all[0][1]) tensors); every rank must build the same model from the same config")
        }
        for (_, t) in tensors {
            try communicator.broadcast(UnsafeMutableBufferPointer(start: t.data, count: t.count), root: 0)
        }
    }

    /// Starts a step (or one micro-batch of it). Checks the step fingerprint on every rank at
    /// the first micro-batch; arms the gradient hooks on the last one, so gradients
    /// accumulated over `microBatches` backward passes are reduced once.
    /// - Parameter stopRequested: this rank was asked to stop (a signal); carried with the
    ///   fingerprint so every rank learns it at the same step.
    /// - Returns: whether any rank asked to stop (first micro-batch only; else false).
    @discardableResult
    public func beginStep(_ step: Int, microBatch: Int = 0, of microBatches: Int = 1, stopRequested: Bool = false) throws -> Bool {
        precondition(microBatches >= 1 && (0..<microBatches).contains(microBatch), "micro-batch \(microBatch) of \(microBatches)")
        var stop = false
        if microBatch == 0 {
            stop = try checkFingerprint(step: Int64(step), microBatches: Int64(microBatches), stopRequested: stopRequested)
        }
        armed = microBatch == microBatches - 1
        if armed {
            nextLaunch = 0
            localNonFinite = false
            for i in copied.indices { copied[i] = false }
            for i in buckets.indices { buckets[i].filled = 0; buckets[i].buffer[buckets[i].count] = 0 }
        }
        return stop
    }

    /// Completes the reduction: packs gradients whose hooks did not fire (unused parameters
    /// count as zero), waits for every bucket, and leaves the average over ranks in `.grad`.
    public func finish() throws -> ReduceResult {
        precondition(armed, "GradientReducer.finish() without beginStep on the last micro-batch")
        armed = false
        for index in parameters.indices where !copied[index] { pack(index) }
        try launchReadyBuckets()
        let start = DispatchTime.now().uptimeNanoseconds
        // Every request is waited for even after one fails, so none is left in flight.
        var firstError: Error?
        for i in buckets.indices {
            do { try buckets[i].request?.wait(); buckets[i].request = nil } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
        reductions += 1
        let exposed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var flagged: Double = 0
        for b in buckets { flagged = max(flagged, b.buffer[b.count]) }
        let nonFinite = flagged > 0
        if !nonFinite && communicator.size > 1 {
            let ranks = Double(communicator.size)
            for b in buckets {
                for (slot, index) in b.parameters.enumerated() {
                    let t = parameters[index].tensor
                    let src = b.buffer.baseAddress! + b.offsets[slot]
                    t.accumulateGrad { g, _ in for i in 0..<t.count { g[i] = Float(src[i] / ranks) } }
                }
            }
        }
        return ReduceResult(nonFinite: nonFinite, nonFiniteHere: localNonFinite, exposedSeconds: exposed)
    }

    /// Every bucket's values summed across ranks with a plain blocking allreduce: the pure
    /// communication cost of one step (for the bench's breakdown).
    public func timeBlockingReduce() throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        for b in buckets { try communicator.allreduce(UnsafeMutableBufferPointer(rebasing: b.buffer[0..<b.count])) }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    // MARK: Internals

    private func gradientReady(_ index: Int) {
        guard armed, !copied[index] else { return }
        pack(index)
        // Hooks cannot throw; a failed launch is retried (and reported) by `finish`.
        try? launchReadyBuckets()
    }

    private func pack(_ index: Int) {
        let (b, slot) = bucketOf[index]
        let t = parameters[index].tensor
        let dst = buckets[b].buffer.baseAddress! + buckets[b].offsets[slot]
        if let g = t.grad {
            var check: Double = 0   // x·0 is 0 for finite x, NaN for ±inf and NaN
            if let precise = t.gradPrecise {
                precise.withUnsafeBufferPointer { p in for i in 0..<t.count { let v = p[i]; dst[i] = v; check += v * 0 } }
            } else {
                for i in 0..<t.count { let v = Double(g.data[i]); dst[i] = v; check += v * 0 }
            }
            if check != 0 || check.isNaN {
                buckets[b].buffer[buckets[b].count] = 1
                localNonFinite = true
            }
        } else {
            dst.update(repeating: 0, count: t.count)
        }
        copied[index] = true
        buckets[b].filled += 1
    }

    /// Starts the allreduce of every complete bucket in bucket order (the same order on every
    /// rank, as MPI requires) and lets in-flight ones progress.
    private func launchReadyBuckets() throws {
        while nextLaunch < buckets.count && buckets[nextLaunch].filled == buckets[nextLaunch].parameters.count {
            buckets[nextLaunch].request = try communicator.startAllreduce(buckets[nextLaunch].buffer)
            nextLaunch += 1
        }
        for i in 0..<nextLaunch { _ = try buckets[i].request?.test() }
    }

    private func checkFingerprint(step: Int64, microBatches: Int64, stopRequested: Bool) throws -> Bool {
        let mine: [Int64] = [step, Int64(buckets.count), Int64(buckets.reduce(0) { $0 + $1.count }), microBatches,
                             stopRequested ? 1 : 0]
        let all = try guardCommunicator.allgather(mine)
        let stop = all.contains { $0[4] != 0 }
        guard all.contains(where: { $0.prefix(4) != all[0].prefix(4) }) else { return stop }
        let described = all.enumerated().map { "rank \($0.offset) at step \($0.element[0]) (\($0.element[1]) buckets, \($0.element[2]) values, \($0.element[3]) micro-batches)" }
        throw DistributedError("ranks are out of step at step \(step) on rank \(communicator.rank): \(described.joined(separator: "; ")). A rank skipped or repeated a step's collectives; stopping instead of hanging")
    }
}
