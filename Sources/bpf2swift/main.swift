import BPF2SwiftGenerator
import Glibc

exit(BPF2Swift.run(arguments: Array(CommandLine.arguments.dropFirst()), report: BPF2Swift.printError))
