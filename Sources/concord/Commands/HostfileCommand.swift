import ArgumentParser
import Config
import Foundation

/// `concord hostfile FILE [--without HOST…]`: checks an mpirun hostfile and prints it back,
/// one `host slots=N` line per node — what `launch/cluster` hands to mpirun.
struct HostfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hostfile",
        abstract: "Check a hostfile (one 'host slots=N' line per node) and print it as mpirun will read it.",
        discussion: """
            A line that mpirun would misread, a host listed twice or a file with no host is a \
            one-line error naming the file and line (exit status 2). --without leaves out nodes \
            (launch/cluster passes the ones that did not answer).
            """)

    @Argument(help: "The hostfile.") var file: String
    @Option(name: .customLong("without"), help: "A host to leave out (repeatable).") var without: [String] = []

    func run() throws {
        try RankErrors.beforeWorld {
            let hostfile = try Hostfile(contentsOf: file)
            let nodes = hostfile.without(Set(without))
            guard !nodes.isEmpty else {
                throw CLIError("hostfile '\(file)': no host is left without \(without.joined(separator: ", "))")
            }
            print(Hostfile.render(nodes), terminator: "")
        }
    }
}
