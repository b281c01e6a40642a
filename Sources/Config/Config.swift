// Config — what a run is asked to do: `TrainConfig` and its sections, the `ConfigSchema`
// table that drives YAML loading, `--set` overrides, rendering, the config hash and "did you
// mean" suggestions, and `ConfigError` (one line naming the file, line and key).
//
// Must not know: anything that runs. A method's section lives here beside the others.
