// Datasets — where images come from and how they become batches: the IDX reader and
// Fashion-MNIST, the sharded sampler (rank r takes positions r, r + N, …), the augmentations
// (pad-crop-flip, MoCo's two views) and the background `BatchLoader`.
//
// Must not know: what is trained on the batches, MPI, checkpoints or configs (callers pass
// plain values).
