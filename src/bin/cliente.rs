//! `cliente`: el cliente de terminal. Toda la lógica está en `chat::cliente`.
//!
//! En el programa completo (por omisión), con la entrada y la salida en una
//! terminal usa el editor de líneas (`chat::extra::editor::run`); con una
//! tubería, lee y escribe líneas sin adornos (`cliente::run`), para guiones
//! y pruebas. La versión del curso (`--no-default-features`) siempre lee
//! línea por línea, con sus pocas opciones (`chat::curso::args`). Sale con
//! el código de `Ending::code`, que `cliente --help` lista.

use std::process::ExitCode;

#[cfg(not(feature = "extra"))]
fn main() -> ExitCode {
    chat::curso::args::cliente(std::env::args().skip(1))
}

#[cfg(feature = "extra")]
fn main() -> ExitCode {
    use chat::cli;
    use chat::cliente::{self, Ending, Mode};
    use chat::extra::client_config::Config;
    use std::io::{self, IsTerminal};

    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(error) => return cli::exit("cliente", &error),
    };
    let interactive = io::stdin().is_terminal()
        && io::stdout().is_terminal()
        && !matches!(config.mode(), Mode::Echo(_));
    let ending = if interactive {
        chat::extra::editor::run(&config.settings(), config.plugins())
    } else {
        let input = io::BufReader::new(io::stdin());
        cliente::run(&config.settings(), config.plugins(), input, io::stdout())
    };
    Ending::exit(ending, &config.addr)
}
