//! `servidor`: arranca el chat. Toda la lógica está en `chat::servidor`.

use chat::servidor::{self, Config, config};
use clap::error::ErrorKind;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) if error.kind() == ErrorKind::DisplayHelp => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!(
                "servidor: {}\n`servidor --help` muestra las opciones.",
                config::explain(&error)
            );
            return ExitCode::from(2);
        }
    };
    match servidor::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("servidor: {error}");
            ExitCode::FAILURE
        }
    }
}
