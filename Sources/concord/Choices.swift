import ArgumentParser
import Engine
import Methods
import Tools
import Training

// The command line's choices are the library's enums; ArgumentParser lists their values in
// --help and rejects anything else with the valid ones.

extension ThroughputBench.Model: ExpressibleByArgument {}
extension ShiftedGemm.Kernels: ExpressibleByArgument {}
extension LinearProbe.Initialization: ExpressibleByArgument {}
extension LinearProbe.Features: ExpressibleByArgument {}

/// What `concord bench --collective` measures.
enum Collective: String, CaseIterable, ExpressibleByArgument { case allreduce }

extension ResumePlan.Request: ExpressibleByArgument {
    /// `auto`, or a checkpoint path.
    public init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        self.init(argument)
    }
}
