/// The define-by-run autograd tape.
///
/// Every differentiable op appends one entry holding a backward closure; `Tensor.backward()`
/// runs the entries in reverse order of creation (a valid reverse topological order), so each
/// output's gradient is complete before its producer reads it. Leaves that carry an
/// `onGradReady` hook are told the moment their last use on the tape has been processed — the
/// data-parallel reducer starts communicating there while backward continues.
///
/// The tape belongs to the training thread; background threads (data loading) never record.
public enum Autograd {
    struct Entry {
        let output: Tensor
        let inputs: [Tensor]
        let backward: (Tensor) -> Void
        let op: StaticString
        let backwardFlops: Double
    }

    nonisolated(unsafe) static var tape: [Entry] = []
    nonisolated(unsafe) static var enabled = true

    /// Whether ops currently record onto the tape.
    public static var isRecording: Bool { enabled }

    /// Number of entries currently on the tape.
    public static var tapeLength: Int { tape.count }

    /// Runs `body` without recording: for evaluation, EMA updates, queue maths.
    @discardableResult
    public static func noGrad<T>(_ body: () throws -> T) rethrows -> T {
        let saved = enabled
        enabled = false
        defer { enabled = saved }
        return try body()
    }

    /// Drops everything recorded so far (e.g. after a forward pass whose loss is not needed).
    public static func reset() {
        for e in tape { for t in e.inputs where t.isLeaf { t.pendingUses = 0 } }
        tape.removeAll(keepingCapacity: true)
    }

    /// Records `output = f(inputs)` if any input needs a gradient. `backward` receives the
    /// output's gradient and must accumulate into the inputs (see `Tensor.accumulateGrad`).
    /// `op` names the op in `OpProfile`; `flops` counts a GEMM-like op's floating-point
    /// operations forward and backward.
    static func record(_ output: Tensor, inputs: [Tensor], op: StaticString = "other", flops: (forward: Double, backward: Double) = (0, 0),
                       backward: @escaping (Tensor) -> Void) {
        if OpProfile.isEnabled { OpProfile.forwardDone(op, flops: flops.forward) }
        guard enabled, inputs.contains(where: { $0.requiresGrad }) else { return }
        output.requiresGrad = true
        output.isLeaf = false
        for t in inputs where t.requiresGrad && t.isLeaf { t.pendingUses += 1 }
        tape.append(Entry(output: output, inputs: inputs, backward: backward, op: op, backwardFlops: flops.backward))
    }

    static func runBackward(from root: Tensor, seed: Tensor) {
        precondition(root.requiresGrad, "backward() on a tensor that does not require grad")
        root.accumulateGrad { g, overwrite in
            if overwrite { g.update(from: seed.data, count: seed.count) }
            else { for i in 0..<seed.count { g[i] += seed.data[i] } }
        }
        if root.isLeaf { fireIfReady(root, decrement: false) }
        var entries: [Entry] = []
        swap(&entries, &tape)
        // Each entry is dropped once run, so the activations only it saved go back to the
        // buffer pool while backward still allocates gradients.
        while let e = entries.popLast() {
            if let g = e.output.grad {
                if OpProfile.isEnabled { OpProfile.backward(e.op, flops: e.backwardFlops) { e.backward(g) } } else { e.backward(g) }
            }
            // Intermediate gradients are dead once propagated: return their buffers now.
            if !e.output.isLeaf { e.output.grad = nil }
            for t in e.inputs where t.requiresGrad && t.isLeaf { fireIfReady(t, decrement: true) }
        }
        if tape.isEmpty { tape = entries }   // empty; keeps its capacity for the next step
    }

    private static func fireIfReady(_ t: Tensor, decrement: Bool) {
        if decrement { t.pendingUses -= 1 }
        if t.pendingUses == 0, let hook = t.onGradReady, t.grad != nil { hook(t) }
    }
}

extension Tensor {
    /// Back-propagates from this tensor (a scalar loss, or any tensor with `gradient` given).
    /// Leaf gradients accumulate into `.grad` as in PyTorch; call `zeroGrad` between steps.
    public func backward(gradient: Tensor? = nil) {
        let seed = gradient ?? Tensor(shape: shape, repeating: 1)
        precondition(seed.count == count, "gradient \(seed.shape) for tensor \(shape)")
        Autograd.runBackward(from: self, seed: seed)
    }

    /// Gives `body` this tensor's gradient buffer. `overwrite` is true when the buffer was just
    /// created (uninitialised): the body must then write every element instead of adding.
    /// A float contribution ends `gradPrecise` (the double copy would miss it).
    @inlinable
    public func accumulateGrad(_ body: (UnsafeMutablePointer<Float>, _ overwrite: Bool) -> Void) {
        dropPreciseGrad()
        if let g = grad {
            body(g.data, false)
        } else {
            let g = Tensor(uninitializedShape: shape)
            grad = g
            body(g.data, true)
        }
    }

    @usableFromInline
    func dropPreciseGrad() { if gradPrecise != nil { gradPrecise = nil } }

    /// Adds a gradient contribution computed as a sum in double precision (a reduction over
    /// the batch). While every contribution arrives this way, `gradPrecise` holds their sum
    /// and `.grad` its rounding to float; after a float contribution, it is added in float.
    public func accumulatePreciseGrad(_ values: UnsafeBufferPointer<Double>) {
        precondition(values.count == count, "precise gradient of \(values.count) values for tensor \(shape)")
        if let g = grad {
            let d = g.data
            if gradPrecise != nil {
                gradPrecise!.withUnsafeMutableBufferPointer { p in
                    for i in 0..<count { p[i] += values[i]; d[i] = Float(p[i]) }
                }
            } else {
                for i in 0..<count { d[i] += Float(values[i]) }
            }
        } else {
            let g = Tensor(uninitializedShape: shape)
            for i in 0..<count { g.data[i] = Float(values[i]) }
            grad = g
            gradPrecise = Array(values)
        }
    }
}
