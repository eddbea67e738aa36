//! The `lapor` binary: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    lapor_node::cli::main()
}
