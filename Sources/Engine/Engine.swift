// Engine — the numerical core: `Tensor` (Float32, contiguous, row-major) with a define-by-run
// autograd tape, every op with its backward, the layers and networks (`Module`, ResNet, MLP,
// `ResNet.cifarEncoder`), the optimizers (SGD, AdamW, LARS), `BatchReduction` (sums over a
// batch that do not depend on how it is split), `StableHash`, and `UserInputError`.
//
// Must not know: MPI, files, configs, or what is being trained. Cross-replica sums come in
// through the `CrossReplicaSum` protocol, which the MPI target implements.
