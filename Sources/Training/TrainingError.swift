import Engine

/// A training run that cannot go on as configured — a setting that contradicts the data or
/// another setting, a checkpoint that does not fit the config, a run directory in the way —
/// as one line that says what to change.
public struct TrainingError: UserInputError {
    public let description: String
    public init(_ description: String) { self.description = description }
}
