//! `servidor`: arranca el chat. Toda la lógica está en `chat::servidor`;
//! aquí se le enchufa lo que agrega el programa completo
//! (`chat::extra::plugins`).

use chat::{cli, servidor};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match servidor::Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) => return cli::exit("servidor", &error),
    };
    match servidor::run(&config, chat::extra::plugins(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("servidor: {error}");
            ExitCode::FAILURE
        }
    }
}
