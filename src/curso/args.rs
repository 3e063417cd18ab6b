//! La línea de comandos de la versión del curso (`cargo run
//! --no-default-features`): las pocas opciones de `servidor` y `cliente`,
//! leídas con `std::env::args` y nada más, y lo que hace cada programa con
//! ellas. El programa completo tiene la suya, con muchas más opciones; una
//! que el curso no conoce se rechaza diciendo que es de allá.
//!
//! Es dueño de leer las opciones y de elegir el código de salida; el chat,
//! el eco y el cliente son de sus módulos.

use crate::curso::cliente::{self, Ending, Mode};
use crate::curso::console::stdout_console;
use crate::curso::echo;
use crate::curso::password::HashCost;
use crate::curso::protocolo;
use crate::curso::seams::Everyone;
use crate::curso::servidor::{self, Plugins, Server, ServerError, Settings, UdpSetup, announce};
use crate::curso::udp::{self, UdpServer};
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// El código de salida de una línea de comandos inválida (el mismo que el
/// programa completo).
pub const BAD_ARGS: u8 = 2;

const SERVER_HELP: &str = "\
servidor (versión del curso): el chat por TCP y UDP en el mismo puerto.

Uso: servidor [opciones]

Opciones:
  --addr HOST:PUERTO     dónde escuchar (por omisión 127.0.0.1:5500)
  --data-dir DIR         dónde guardar las cuentas (por omisión ./datos)
  --hash-cost COSTO      owasp (por omisión) o minimal (solo para pruebas)
  --udp-idle-secs S      segundos sin datagramas tras los que se cierra
                         una sesión solo-UDP (por omisión 300)
  --echo                 ser el servidor de eco del enunciado 002
  -h, --help             esta ayuda

La primera línea que imprime es \"Listening on HOST:PUERTO\".
El programa completo tiene más opciones: cargo run --bin servidor -- --help
";

const CLIENT_HELP: &str = "\
cliente (versión del curso): lee líneas de la entrada y las envía;
muestra lo que llega del servidor. El fin de la entrada (Ctrl-D) es :q.

Uso: cliente [opciones]

Opciones:
  --addr HOST:PUERTO     el servidor (por omisión 127.0.0.1:5500)
  --udp                  solo UDP (cada datagrama lleva el token)
  --echo MENSAJE         enviar MENSAJE al servidor de eco y salir
  -h, --help             esta ayuda

Dentro del chat: :register <nombre> <clave>, :login <nombre> <clave>, :help.
En modo TCP, :udp y :tcp eligen por dónde viajan las líneas siguientes.

Códigos de salida: 0 saliste; 1 se perdió la conexión; 2 opciones
inválidas; 3 no hay servidor (o por UDP no respondió); 8 entraste con tu
cuenta desde otra dirección (solo UDP).
El programa completo tiene más opciones: cargo run --bin cliente -- --help
";

/// Lo que pide la línea de comandos del servidor.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerCommand {
    /// El chat, con su inactividad UDP.
    Chat {
        settings: Settings,
        udp_idle: Duration,
    },
    /// El servidor de eco en `addr`.
    Echo { addr: String },
    /// Mostrar la ayuda.
    Help,
}

/// Lo que pide la línea de comandos del cliente.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// Conversar con el servidor.
    Run(cliente::Settings),
    /// Mostrar la ayuda.
    Help,
}

/// Las opciones que siguen al nombre del programa, una por una, con el
/// valor de las que lo llevan. Error: el texto que se muestra.
struct Args<I: Iterator<Item = String>> {
    program: &'static str,
    rest: I,
}

impl<I: Iterator<Item = String>> Args<I> {
    /// El valor de `flag`. Error: no lo tiene.
    fn value(&mut self, flag: &str) -> Result<String, String> {
        self.rest
            .next()
            .ok_or_else(|| format!("{flag} necesita un valor"))
    }

    /// El error de una opción que el curso no tiene.
    fn unknown(&self, flag: &str) -> String {
        format!(
            "la versión del curso no tiene la opción {flag}: es del programa completo \
             (cargo run --bin {} -- --help las lista)",
            self.program
        )
    }
}

/// Lee las opciones de `servidor` (sin el nombre del programa). Error: el
/// texto que explica cuál opción está mal.
pub fn server_command(args: impl IntoIterator<Item = String>) -> Result<ServerCommand, String> {
    let mut args = Args {
        program: "servidor",
        rest: args.into_iter(),
    };
    let mut settings = Settings::default();
    let mut udp_idle = udp::DEFAULT_IDLE;
    let mut echo = false;
    while let Some(flag) = args.rest.next() {
        match flag.as_str() {
            "--addr" => settings.addr = protocolo::host_and_port(&args.value(&flag)?)?,
            "--data-dir" => settings.data_dir = PathBuf::from(args.value(&flag)?),
            "--hash-cost" => {
                let text = args.value(&flag)?;
                settings.hash_cost = HashCost::parse(&text)
                    .ok_or_else(|| format!("--hash-cost: {text:?} no es owasp ni minimal"))?;
            }
            "--udp-idle-secs" => udp_idle = seconds(&flag, &args.value(&flag)?)?,
            "--echo" => echo = true,
            "-h" | "--help" => return Ok(ServerCommand::Help),
            _ => return Err(args.unknown(&flag)),
        }
    }
    Ok(if echo {
        ServerCommand::Echo {
            addr: settings.addr,
        }
    } else {
        ServerCommand::Chat { settings, udp_idle }
    })
}

/// `text` como una cantidad de segundos mayor que 0, para `flag`. Error: el
/// texto que lo explica.
fn seconds(flag: &str, text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "{flag}: {text:?} no es un número de segundos mayor que 0"
        )),
    }
}

/// Lee las opciones de `cliente` (sin el nombre del programa). Error: el
/// texto que explica cuál opción está mal.
pub fn client_command(args: impl IntoIterator<Item = String>) -> Result<ClientCommand, String> {
    let mut args = Args {
        program: "cliente",
        rest: args.into_iter(),
    };
    let mut settings = cliente::Settings::default();
    let (mut udp, mut echo) = (false, None);
    while let Some(flag) = args.rest.next() {
        match flag.as_str() {
            "--addr" => settings.addr = protocolo::host_and_port(&args.value(&flag)?)?,
            "--udp" => udp = true,
            "--echo" => echo = Some(args.value(&flag)?),
            "-h" | "--help" => return Ok(ClientCommand::Help),
            _ => return Err(args.unknown(&flag)),
        }
    }
    settings.mode = match (echo, udp) {
        (Some(_), true) => return Err("--udp y --echo no van juntas".to_string()),
        (Some(message), false) => Mode::Echo(message),
        (None, true) => Mode::Udp,
        (None, false) => Mode::Tcp,
    };
    Ok(ClientCommand::Run(settings))
}

/// `servidor` de la versión del curso: lee las opciones y atiende hasta
/// que el proceso termina. Código de salida: [`BAD_ARGS`] con opciones
/// inválidas, 1 si el servidor no pudo arrancar.
pub fn servidor(args: impl IntoIterator<Item = String>) -> ExitCode {
    let result = match server_command(args) {
        Ok(ServerCommand::Help) => {
            print!("{SERVER_HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(ServerCommand::Echo { addr }) => serve_echo(&addr),
        Ok(ServerCommand::Chat { settings, udp_idle }) => serve_chat(&settings, udp_idle),
        Err(error) => {
            eprintln!("servidor: {error}");
            return ExitCode::from(BAD_ARGS);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("servidor: {error}");
            ExitCode::FAILURE
        }
    }
}

/// El eco del enunciado 002, sin límites. Error: no se pudo abrir el socket.
fn serve_echo(addr: &str) -> Result<(), ServerError> {
    let serve: echo::Serve = Arc::new(echo::serve);
    echo::run(addr, stdout_console(), &Everyone, serve).map_err(|error| ServerError::Bind {
        addr: addr.to_string(),
        error,
    })
}

/// El chat con las respuestas del curso en cada punto de enchufe. Error:
/// [`ServerError`].
fn serve_chat(settings: &Settings, udp_idle: Duration) -> Result<(), ServerError> {
    let udp: UdpSetup =
        Box::new(move |socket, chat| UdpServer::new(Arc::new(socket), chat, udp_idle));
    let server = Server::bind(settings, stdout_console(), Plugins::default(), udp)?;
    let bind_error = |error: io::Error| ServerError::Bind {
        addr: settings.addr.clone(),
        error,
    };
    let addr = server.local_addr().map_err(bind_error)?;
    announce(&addr.to_string())?;
    servidor::start(&server, &settings.data_dir);
    server.serve().map_err(bind_error)
}

/// `cliente` de la versión del curso: lee las opciones y conversa, línea
/// por línea, hasta que la sesión termina. Código de salida: el de
/// [`Ending::code`], o [`BAD_ARGS`] con opciones inválidas.
pub fn cliente(args: impl IntoIterator<Item = String>) -> ExitCode {
    let settings = match client_command(args) {
        Ok(ClientCommand::Run(settings)) => settings,
        Ok(ClientCommand::Help) => {
            print!("{CLIENT_HELP}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("cliente: {error}");
            return ExitCode::from(BAD_ARGS);
        }
    };
    let (input, output) = (io::BufReader::new(io::stdin()), io::stdout());
    let ending = cliente::run(&settings, input, output);
    Ending::exit(ending, &settings.addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_server_reads_its_few_flags() {
        let command = server_command(words(
            "--addr 0.0.0.0:7000 --data-dir /tmp/x --hash-cost minimal --udp-idle-secs 9",
        ));
        let Ok(ServerCommand::Chat { settings, udp_idle }) = command else {
            panic!("{command:?}");
        };
        assert_eq!(settings.addr, "0.0.0.0:7000");
        assert_eq!(settings.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(settings.hash_cost, HashCost::Minimal);
        assert_eq!(udp_idle, Duration::from_secs(9));
        assert_eq!(
            server_command(words("--echo --addr 127.0.0.1:1")),
            Ok(ServerCommand::Echo {
                addr: "127.0.0.1:1".into()
            })
        );
        assert_eq!(server_command(words("-h")), Ok(ServerCommand::Help));
        let Ok(ServerCommand::Chat { settings, udp_idle }) = server_command(Vec::new()) else {
            panic!("sin opciones");
        };
        assert_eq!(
            (settings, udp_idle),
            (Settings::default(), udp::DEFAULT_IDLE)
        );
    }

    #[test]
    fn a_flag_of_the_full_build_is_refused_by_name() {
        let error = server_command(words("--max-clients 5")).expect_err("no es del curso");
        assert!(error.contains("--max-clients"), "{error}");
        assert!(error.contains("programa completo"), "{error}");
        assert!(
            error.contains("cargo run --bin servidor -- --help"),
            "{error}"
        );
        let error = client_command(words("--reliable")).expect_err("no es del curso");
        assert!(
            error.contains("--reliable") && error.contains("--bin cliente"),
            "{error}"
        );
        assert!(server_command(words("--addr")).is_err(), "sin valor");
        assert!(server_command(words("--addr nada")).is_err());
        assert!(server_command(words("--hash-cost mucho")).is_err());
        assert!(server_command(words("--udp-idle-secs 0")).is_err());
    }

    #[test]
    fn the_client_reads_its_few_flags() {
        let run = |text: &str| match client_command(words(text)) {
            Ok(ClientCommand::Run(settings)) => settings,
            other => panic!("{other:?}"),
        };
        assert_eq!(run(""), cliente::Settings::default());
        let settings = run("--addr [::1]:7 --udp");
        assert_eq!(
            (settings.addr.as_str(), settings.mode),
            ("[::1]:7", Mode::Udp)
        );
        assert_eq!(run("--echo hola").mode, Mode::Echo("hola".into()));
        assert!(client_command(words("--udp --echo hola")).is_err());
        assert!(client_command(words("--echo")).is_err());
        assert_eq!(client_command(words("--help")), Ok(ClientCommand::Help));
    }

    /// La ayuda del cliente lista cada código de salida que el cliente del
    /// curso puede dar (los demás avisan el fin de una sesión por un límite
    /// o el apagado del programa completo, que el servidor del curso no
    /// tiene).
    #[test]
    fn the_client_help_lists_every_exit_code() {
        let course = [
            Ending::Left,
            Ending::Lost,
            Ending::Unreachable,
            Ending::Replaced,
        ];
        for ending in course {
            let code = ending.code();
            assert!(
                CLIENT_HELP.contains(&format!(" {code} "))
                    || CLIENT_HELP.contains(&format!("\n{code} ")),
                "falta {code}"
            );
        }
    }
}
