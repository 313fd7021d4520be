//! The `lindung-agent` binary: a thin wrapper over [`lindung_agent::cli`].

fn main() -> std::process::ExitCode {
    lindung_agent::cli::main()
}
