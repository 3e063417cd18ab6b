//! `calificar`: la suite de conformidad contra el servidor de un alumno,
//! con la tabla en Markdown que pega el docente. Toda la lógica está en
//! `chat::extra::conformance`; aquí solo se leen las opciones.

use chat::extra::conformance::{self, Target};
use clap::Parser;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// La línea de comandos de `calificar`.
#[derive(Parser, Debug)]
#[command(
    name = "calificar",
    about = "Califica un servidor de chat contra los enunciados del curso (000 a 004),\n\
             requisito por requisito, e imprime una tabla en Markdown: el requisito, si pasa\n\
             y, si no, la primera expectativa que falló con lo que llegó.",
    override_usage = "calificar (--server-cmd COMANDO | --server-addr HOST:PUERTO) [opciones]",
    help_template = "{about}\n\nUso: {usage}\n\nOpciones:\n{options}\n{after-help}",
    after_help = "Con --server-cmd, la suite arranca el servidor una vez por requisito con\n\
                  `--addr 127.0.0.1:0 --data-dir DIR` agregados (y `--echo` para el 002), y lee\n\
                  el puerto de la primera línea que imprime. El contrato completo está en el\n\
                  README, \"Calificar el servidor de otro\".\n\n\
                  Código de salida: 0 si ningún requisito calificado falla; 1 si alguno falla;\n\
                  2 opciones inválidas.",
    disable_help_flag = true,
    max_term_width = 100
)]
struct Args {
    /// Comando que arranca el servidor (p. ej. 'python3 servidor.py'); también
    /// la variable SERVER_CMD
    #[arg(long, value_name = "COMANDO", conflicts_with = "server_addr")]
    server_cmd: Option<String>,

    /// Un servidor que ya anda en esa dirección (sin consola ni eco); también
    /// la variable SERVER_ADDR
    #[arg(long, value_name = "HOST:PUERTO")]
    server_addr: Option<SocketAddr>,

    /// Saltar los requisitos que empiezan así (000, 001, 002, 004.8...); se
    /// repite
    #[arg(long, value_name = "REQUISITO")]
    skip: Vec<String>,

    /// Segundos que se espera cada respuesta
    #[arg(long, value_name = "S", default_value_t = conformance::DEFAULT_WAIT.as_secs())]
    wait_secs: u64,

    /// Muestra esta ayuda
    #[arg(short, long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => return chat::cli::exit("calificar", &error),
    };
    let target = match (args.server_cmd, args.server_addr) {
        (Some(command), _) => Target::Command(command),
        (None, Some(addr)) => Target::Addr(addr),
        (None, None) => match conformance::target_from_env() {
            Some(Ok(target)) => target,
            Some(Err(why)) => {
                eprintln!("calificar: {why}");
                return ExitCode::from(2);
            }
            None => {
                eprintln!(
                    "calificar: falta el servidor: --server-cmd COMANDO o --server-addr HOST:PUERTO\n\
                     `calificar --help` muestra las opciones."
                );
                return ExitCode::from(2);
            }
        },
    };
    let wait = Duration::from_secs(args.wait_secs.max(1));
    eprintln!(
        "calificar: {} requisitos a la vez; cada respuesta se espera hasta {} s.",
        conformance::REQUIREMENTS.len(),
        wait.as_secs()
    );
    let outcomes = conformance::check_all(&target, wait, &args.skip);
    print!("{}", conformance::report(&outcomes));
    if outcomes.iter().all(|(_, outcome)| outcome.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
