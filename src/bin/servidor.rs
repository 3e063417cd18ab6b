//! `servidor`: arranca el chat. Toda la lógica está en `chat::servidor`.
//! El programa completo (por omisión) lee su línea de comandos con `clap`
//! y `chat::extra::launch` le enchufa lo que agrega; la versión del curso
//! (`--no-default-features`) lee sus pocas opciones en `chat::curso::args`.

use std::process::ExitCode;

#[cfg(feature = "extra")]
fn main() -> ExitCode {
    let config = match chat::extra::config::Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) => return chat::cli::exit("servidor", &error),
    };
    match chat::extra::launch::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("servidor: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "extra"))]
fn main() -> ExitCode {
    chat::curso::args::servidor(std::env::args().skip(1))
}
