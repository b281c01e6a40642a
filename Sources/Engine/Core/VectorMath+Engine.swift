import EngineKernels

/// `VectorMath` lives with the kernels so that it is optimised in debug builds too (its
/// generic SIMD code unspecialised made debug training several times slower); the engine and
/// the layers above use it under this name.
public typealias VectorMath = EngineKernels.VectorMath
