//! `servidor`: arranca el chat. Toda la lógica está en `chat::servidor`.

use chat::servidor;
use std::process::ExitCode;

fn main() -> ExitCode {
    match servidor::parse_args(std::env::args().skip(1)) {
        Ok(None) => {
            print!("{}", servidor::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Some(config)) => match servidor::run(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("servidor: {error}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("servidor: {message}\n\n{}", servidor::USAGE);
            ExitCode::from(2)
        }
    }
}
