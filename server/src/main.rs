//! The `lindung-server` binary: a thin wrapper over [`lindung_server::cli`].

fn main() -> std::process::ExitCode {
    lindung_server::cli::main()
}
