//! `servidor`: arranca el chat. Toda la lógica está en `chat::servidor`;
//! `chat::extra::launch` le enchufa lo que agrega el programa completo.

use chat::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match chat::extra::config::Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) => return cli::exit("servidor", &error),
    };
    match chat::extra::launch::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("servidor: {error}");
            ExitCode::FAILURE
        }
    }
}
