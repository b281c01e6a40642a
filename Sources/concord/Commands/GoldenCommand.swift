import ArgumentParser
import Tools
import Foundation

/// `concord golden DIR`: checks the engine against PyTorch-computed reference cases.
struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Run every golden case (*.safetensors) in a directory against the engine.",
        discussion: """
            Prints one line per case: name, op, worst error as a fraction of the case's \
            tolerance (≤ 1 passes), and pass / FAIL / unsupported. Exits 1 if any case fails \
            or cannot be read.
            """)

    @Argument(help: "Directory of golden .safetensors files.") var directory: String
    @Flag(name: .shortAndLong, help: "Also print every compared tensor's error / tolerance.") var verbose = false

    func run() throws {
        let results: [GoldenResult]
        do { results = try GoldenRunner.run(directory: directory) } catch {
            throw CLIError("\(error)")
        }
        print(GoldenResult.header)
        for r in results {
            print(r.line)
            if verbose { for d in r.details { print(String(format: "    %-52@ %.3f", d.tensor, d.ratio)) } }
        }
        let failed = results.filter { if case .fail = $0.status { return true }; if case .error = $0.status { return true }; return false }
        let unsupported = results.filter { if case .unsupported = $0.status { return true }; return false }
        print("\(results.count - failed.count - unsupported.count) passed, \(failed.count) failed, \(unsupported.count) unsupported")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
