//! `livelake`: the command-line entry point. Parses arguments, sets up logging and dispatches to
//! the subcommands in `cli/`. User errors print one line and exit non-zero; nothing panics.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return cli::clap_exit(e),
    };
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livelake: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
