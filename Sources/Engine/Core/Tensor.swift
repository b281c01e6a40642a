/// A dense Float32 tensor, contiguous and row-major (images are NCHW).
///
/// Tensors are reference types: ops return new tensors and record how to differentiate them
/// on the autograd tape (see `Autograd`). Memory comes from `BufferPool`, so steady-state
/// training reuses buffers instead of allocating.
///
/// ```swift
/// let x = Tensor.randn([4, 3], rng: &rng)
/// let w = Tensor.randn([2, 3], rng: &rng, requiresGrad: true)
/// let loss = x.matmul(w.transposed()).sum()
/// loss.backward()   // w.grad: [2, 3]
/// ```
public final class Tensor: CustomStringConvertible {
    /// Extent of each dimension; `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    @usableFromInline let storage: Storage
    /// Element offset into `storage` (non-zero only for views made by `reshaped`).
    @usableFromInline let offset: Int

    /// Whether gradients flow into this tensor. Set on parameters; ops propagate it.
    public var requiresGrad: Bool
    /// Accumulated gradient, same shape as the tensor; `nil` until backward reaches it.
    /// Setting it to `nil` also drops `gradPrecise`.
    public var grad: Tensor? { didSet { if grad == nil { gradPrecise = nil } } }
    /// The gradient in double precision, while every contribution to it came from a sum
    /// formed in double (`accumulatePreciseGrad`). The gradient reducer adds these across
    /// processes before rounding, so the result does not depend on how a batch was split.
    public internal(set) var gradPrecise: [Double]?
    /// Called once per backward pass when this leaf's gradient is final.
    public var onGradReady: ((Tensor) -> Void)?
    /// Uses recorded on the current tape; backward counts them down to fire `onGradReady`.
    var pendingUses = 0
    /// True for tensors created by the user rather than by an op on the tape.
    public internal(set) var isLeaf = true

    /// Raw element pointer (valid while the tensor is alive).
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// Creates an uninitialised tensor.
    public init(uninitializedShape shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = Storage(count: count)
        self.offset = 0
        self.requiresGrad = requiresGrad
    }

    init(shape: [Int], sharing storage: Storage, offset: Int = 0) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = storage
        self.offset = offset
        self.requiresGrad = false
    }

    /// Creates a tensor filled with `value`.
    public convenience init(shape: [Int], repeating value: Float, requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape, requiresGrad: requiresGrad)
        fill(value)
    }

    /// Creates a tensor from row-major values; `values.count` must match the shape.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        self.init(uninitializedShape: shape, requiresGrad: requiresGrad)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// A zero-filled tensor.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, repeating: 0, requiresGrad: requiresGrad)
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, repeating: 1, requiresGrad: requiresGrad)
    }

    /// A scalar tensor.
    public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [], values: [value]) }

    /// Standard-normal samples.
    public static func randn(_ shape: [Int], rng: inout RandomGenerator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape, requiresGrad: requiresGrad)
        rng.fillNormal(t.data, count: t.count, mean: 0, std: 1)
        return t
    }

    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The elements as an array (copies).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item on a tensor of shape \(shape)")
        return data[0]
    }

    /// Element access by flat index (for tests and small bookkeeping, not kernels).
    public subscript(flat i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// A tensor with the same data and no autograd history (shares memory).
    public func detached() -> Tensor { Tensor(shape: shape, sharing: storage, offset: offset) }

    /// A deep copy with no autograd history.
    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Overwrites the elements with those of `other` (same element count), outside autograd.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign \(other.shape) to \(shape)")
        data.update(from: other.data, count: count)
    }

    /// Sets every element to `value`, outside autograd.
    public func fill(_ value: Float) {
        if value == 0 && value.sign == .plus { VectorMath.zero(data, count) } else { data.update(repeating: value, count: count) }
    }

    public var description: String {
        let head = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}

import Foundation
