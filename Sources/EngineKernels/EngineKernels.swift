// EngineKernels — the shifted-GEMM convolution kernels, written once, generic over the SIMD
// vector width, `@inlinable` so each instruction-set module specialises them; and the
// transformer's element-wise and row kernels (`RowKernels`: exp, erf, GELU, softmax and
// LayerNorm rows), compiled optimised in every build.
//
// Owns: register-blocked GEMMs over shifted windows of an image (forward, transposed, the
// broadcast weight-gradient form); eight-lane loops over float rows. Knows nothing of tensors, autograd or anything above;
// Engine's `ShiftedGemm` picks the AVX2 or AVX-512 instantiation at run time.
