// EngineKernels — the shifted-GEMM convolution kernels and the register-tiled GEMM of token
// rows and attention heads (`TileGemmKernel`), written once, generic over the SIMD vector
// width (and the tile's shape), `@inlinable` so each instruction-set module specialises
// them; the transformer's element-wise and row kernels (`RowKernels`: exp, erf, GELU,
// softmax and LayerNorm rows); reading memory ahead (`CacheWarming`); the multiply-add
// peak (`FMALoop`). Compiled optimised in every build.
//
// Owns: register-blocked GEMMs over shifted windows of an image (forward, transposed, the
// broadcast weight-gradient form) and over strided operands; eight-lane loops over float
// rows. Knows nothing of tensors, autograd or anything above; Engine's `ShiftedGemm` and
// `TokenGemm` pick the AVX2 or AVX-512 instantiation at run time.
