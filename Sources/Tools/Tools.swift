// Tools — the measuring instruments: the golden runner (PyTorch-computed reference cases
// recomputed by the engine, through the same code training runs) and the throughput bench
// (the training step users run, timed as the PyTorch reference times its own).
//
// Must not know: the command line's parsing.
