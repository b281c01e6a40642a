// Methods — one folder per training method (`Supervised/`, `MoCoV2/`), each an objective
// plugged into the Trainer, registered in `MethodRegistry`; what they share (`Monitors/`: the
// kNN monitor; `ModelFactory`), and the linear probe (`Probe/`) that judges pre-trained
// features.
//
// Must not know: the command line. A method never changes the loop, the step or the CLI.
