//! El cliente de terminal: se conecta por TCP, manda cada línea que lee de
//! la entrada estándar y muestra cada línea que llega del servidor. Un hilo
//! envía y otro recibe, porque los mensajes de los demás llegan en cualquier
//! momento, no solo como respuesta a lo que uno escribe.
//!
//! Hasta entrar a la sala avanza "al paso": tras cada línea espera la
//! respuesta del servidor. Así, con la entrada en una tubería (un guion), el
//! resultado es el mismo que escribiendo a mano. Ya en la sala, muestra las
//! líneas propias como `Me: hola` (enunciado 004, punto 3). No interpreta
//! reglas del chat: el servidor decide todo.

use crate::protocolo::{self, Command, Event};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// Cuánto espera, como mucho, la respuesta a una línea antes de entrar a la
/// sala. Pasado ese tiempo sigue igual (el servidor puede estar lento).
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// El texto de `cliente --help`.
pub const USAGE: &str = "\
Uso: cliente [opciones]

Cliente de terminal del chat. Lee líneas de la entrada estándar (teclado o
tubería) y las envía; muestra lo que llega del servidor. El fin de la entrada
(Ctrl-D) equivale a :q.

Opciones:
  --addr HOST:PUERTO   servidor al que conectarse (por defecto 127.0.0.1:5500)
  --help               muestra esta ayuda

Dentro del chat: :register <nombre> <clave>, :login <nombre> <clave>, :help.
";

/// La configuración del cliente.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Dirección del servidor (`HOST:PUERTO`).
    pub addr: String,
}

/// Lee los argumentos (sin el nombre del programa). `Ok(None)` si se pidió
/// `--help`. Error: un texto que explica el argumento malo.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        addr: crate::servidor::DEFAULT_ADDR.into(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--addr" => config.addr = args.next().ok_or("--addr needs a value")?,
            other => match other.strip_prefix("--addr=") {
                Some(addr) => config.addr = addr.into(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(Some(config))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Outside,
    AwaitingBalance,
    Joined,
}

struct State {
    stage: Stage,
    /// Respuestas completas recibidas del servidor (para esperar la de la
    /// última línea enviada antes de enviar la siguiente).
    replies: u64,
    /// El nombre de la última línea `:login`/`:register` enviada.
    name: Option<String>,
    /// La conexión terminó.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Conecta con el servidor y atiende hasta que la conexión termina.
///
/// `input` son las líneas del usuario; `output` recibe lo que se muestra.
/// Devuelve `Ok(true)` si el servidor se despidió (`:q`), `Ok(false)` si
/// cerró sin despedirse. Error: no se pudo conectar.
pub fn run(
    config: &Config,
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> io::Result<bool> {
    let stream = TcpStream::connect(&config.addr)?;
    stream.set_nodelay(true)?;
    let me = stream.local_addr()?;
    let server = stream.peer_addr()?;
    let output = Arc::new(Mutex::new(output));
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            stage: Stage::Outside,
            replies: 0,
            name: None,
            closed: false,
        }),
        changed: Condvar::new(),
    });

    let sender = {
        let (stream, shared, output) = (
            stream.try_clone()?,
            Arc::clone(&shared),
            Arc::clone(&output),
        );
        thread::Builder::new()
            .name("sender".into())
            .spawn(move || send_lines(input, stream, &shared, &output))?
    };
    drop(sender); // El emisor puede quedar bloqueado leyendo el teclado.

    let mut said_goodbye = false;
    let mut reader = BufReader::new(stream);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim_end_matches(['\n', '\r']);
        print_line(&output, line);
        let event = Event::parse(line);
        let mut state = shared.lock();
        // Una respuesta termina en su última línea: `Welcome` siempre va
        // seguida de otra, y un error mientras se espera el saldo, de la
        // pregunta repetida.
        let last_of_reply = match &event {
            Some(Event::Welcome) => false,
            Some(Event::Error(_)) => state.stage != Stage::AwaitingBalance,
            _ => true,
        };
        if last_of_reply {
            state.replies += 1;
        }
        match event {
            Some(Event::Welcome) => {
                let name = state.name.clone().unwrap_or_default();
                print_line(
                    &output,
                    &format!("You are {name}, from {me}, connected to the server at {server}."),
                );
            }
            Some(Event::AskBalance) => state.stage = Stage::AwaitingBalance,
            Some(Event::BalanceSet(_) | Event::Funds(_)) => state.stage = Stage::Joined,
            Some(Event::Goodbye) => said_goodbye = true,
            _ => {}
        }
        drop(state);
        shared.changed.notify_all();
    }
    shared.lock().closed = true;
    shared.changed.notify_all();
    Ok(said_goodbye)
}

/// Espera a que el contador de respuestas pase de `before` (o a que se
/// cierre la conexión), como mucho [`REPLY_WAIT`].
fn wait_for_reply(shared: &Shared, before: u64) {
    let state = shared.lock();
    let _ = shared
        .changed
        .wait_timeout_while(state, REPLY_WAIT, |s| s.replies == before && !s.closed);
}

fn print_line(output: &Mutex<impl Write>, line: &str) {
    let mut out = output.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// El hilo emisor: cada línea de `input` va al servidor; al terminar la
/// entrada, envía `:q`.
fn send_lines(
    input: impl BufRead,
    mut stream: TcpStream,
    shared: &Shared,
    output: &Mutex<impl Write>,
) {
    // Primero el saludo del servidor: si no, se lo contaría como la
    // respuesta a la primera línea.
    wait_for_reply(shared, 0);
    for line in input.split(b'\n') {
        let Ok(raw) = line else { break };
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim_end_matches('\r');
        let parsed = protocolo::parse_command(line);
        let (stage, before) = {
            let mut state = shared.lock();
            if state.closed {
                return;
            }
            if let Ok(Some(Command::Login { name, .. } | Command::Register { name, .. })) = &parsed
            {
                state.name = Some(name.clone());
            }
            (state.stage, state.replies)
        };
        if stage == Stage::Joined {
            let shown = match &parsed {
                Ok(Some(Command::Public(text))) => protocolo::render_text(text),
                // Una contraseña no se repite en pantalla, ni siquiera la propia.
                Ok(Some(Command::Login { .. } | Command::Register { .. })) => String::new(),
                _ => line.to_string(),
            };
            if !shown.trim().is_empty() {
                print_line(output, &format!("Me: {shown}"));
            }
        }
        if stream.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
        if let Ok(Some(Command::Quit)) = parsed {
            return;
        }
        // Antes de entrar a la sala, cada línea no vacía tiene respuesta:
        // se espera para que la siguiente se interprete en la etapa correcta.
        if stage != Stage::Joined && !line.trim().is_empty() {
            wait_for_reply(shared, before);
        }
    }
    // Fin de la entrada: igual que :q. Cerrar el sentido de escritura avisa
    // al servidor aun si ya no lee.
    let _ = stream.write_all(b":q\n");
    let _ = stream.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let args = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_args(args(&[])),
            Ok(Some(Config {
                addr: "127.0.0.1:5500".into()
            }))
        );
        assert_eq!(
            parse_args(args(&["--addr", "[::1]:7"])),
            Ok(Some(Config {
                addr: "[::1]:7".into()
            }))
        );
        assert_eq!(parse_args(args(&["--help"])), Ok(None));
        assert!(parse_args(args(&["--addr"])).is_err());
        assert!(parse_args(args(&["x"])).is_err());
    }
}
