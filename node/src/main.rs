//! The `debrief` binary: a thin wrapper over the `debrief_node` library.

fn main() -> std::process::ExitCode {
    debrief_node::cli::main()
}
