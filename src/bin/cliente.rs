//! `cliente`: el cliente de terminal. Toda la lógica está en `chat::cliente`.

use chat::cliente;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cliente::parse_args(std::env::args().skip(1)) {
        Ok(None) => {
            print!("{}", cliente::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Some(config)) => {
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
        Err(message) => {
            eprintln!("cliente: {message}\n\n{}", cliente::USAGE);
            ExitCode::from(2)
        }
    }
}
