// EngineKernels — the shifted-GEMM convolution kernels, written once, generic over the SIMD
// vector width, `@inlinable` so each instruction-set module specialises them.
//
// Owns: register-blocked GEMMs over shifted windows of an image (forward, transposed, the
// broadcast weight-gradient form). Knows nothing of tensors, autograd or anything above;
// Engine's `ShiftedGemm` picks the AVX2 or AVX-512 instantiation at run time.
