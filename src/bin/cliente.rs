//! `cliente`: el cliente de terminal. Toda la lógica está en `chat::cliente`.

use chat::{cli, cliente};
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match cliente::Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) => return cli::exit("cliente", &error),
    };
    let input = io::BufReader::new(io::stdin());
    match cliente::run(&config, input, io::stdout()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("cliente: the server ended the session without an answer");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("cliente: cannot talk to {}: {error}", config.addr);
            ExitCode::FAILURE
        }
    }
}
