//! El cliente de terminal: manda cada línea que lee de la entrada estándar y
//! muestra cada línea que llega del servidor. Un hilo envía y otro recibe,
//! porque los mensajes de los demás llegan en cualquier momento, no solo como
//! respuesta a lo que uno escribe (enunciado 000: un hilo envía, otro recibe).
//!
//! Tres modos:
//! - TCP (por defecto): la conexión TCP, más un socket UDP que se abre al
//!   recibir el token, para el relay punto a punto del enunciado 001: `:udp`
//!   y `:tcp` eligen por dónde viajan las líneas siguientes (el "radio
//!   button" de protocolo del enunciado).
//! - `--udp`: solo UDP, como el enunciado 000; cada datagrama lleva el token.
//! - `--echo MENSAJE`: cliente del servidor de eco (enunciado 002).
//!
//! Hasta entrar a la sala avanza "al paso": tras cada línea espera la
//! respuesta completa del servidor. Así, con la entrada en una tubería (un
//! guion), el resultado es el mismo que escribiendo a mano. Ya en la sala,
//! muestra las líneas propias como `Me: hola` (enunciado 004, punto 3). No
//! interpreta reglas del chat: el servidor decide todo.
//!
//! Un núcleo común (`core`: el estado de la sesión que comparten el hilo
//! que envía y los que reciben) y un archivo por modo: `terminal` (TCP con
//! UDP opcional), `udp` y `echo`. Por UDP no repite nada: lo que se pierde
//! se pierde, como acepta el enunciado. Del resto del crate importa solo lo
//! puro que comparte con el servidor: `protocolo`, `framing` y `sync` (la
//! regla de los candados). Nada del servidor. No lee la línea de comandos:
//! recibe un [`Settings`].
//!
//! Lo que se muestra (`screen`) y cómo termina una sesión (`ending`) son
//! datos sin sockets: el cliente gráfico los usa tal cual.

pub mod core;
pub mod echo;
pub mod ending;
pub mod screen;
mod terminal;
mod udp;

pub use ending::Ending;
pub use screen::{Lines, Screen, Shown};

use crate::curso::protocolo;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// El largo máximo, en bytes, de una línea del servidor que el cliente
/// guarda: la más larga que envía es la lista de `:u`, unos 33 bytes por
/// usuario (30.000 usuarios caben). Un servidor roto o ajeno que envía una
/// línea sin fin no agota la memoria del cliente: se descarta.
pub const MAX_SERVER_LINE_BYTES: usize = 1 << 20;

/// Cuánto espera, como mucho, la respuesta a una línea antes de entrar a la
/// sala (y la respuesta del eco). Pasado ese tiempo sigue igual.
pub const REPLY_WAIT: Duration = Duration::from_secs(10);

/// Cómo habla el cliente con el servidor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// TCP, con UDP opcional para algunas líneas (`:udp`/`:tcp`).
    Tcp,
    /// Solo UDP.
    Udp,
    /// Una línea al servidor de eco.
    Echo(String),
}

/// Lo que el cliente necesita saber para conectarse: adónde y cómo.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// El servidor, `HOST:PUERTO`.
    pub addr: String,
    /// TCP, solo UDP o eco.
    pub mode: Mode,
}

impl Default for Settings {
    /// El servidor en este equipo, por TCP.
    fn default() -> Settings {
        Settings {
            addr: protocolo::DEFAULT_ADDR.to_string(),
            mode: Mode::Tcp,
        }
    }
}

/// Corre el cliente hasta que la sesión termina, con texto de entrada y
/// de salida (la terminal, una tubería, las pruebas).
///
/// `input` son las líneas del usuario, separadas por `\n` (un `\r` final
/// se quita; bytes que no son UTF-8 se reemplazan); `output` recibe una
/// línea por cosa mostrada ([`Shown::text`]). Devuelve cómo terminó la
/// sesión ([`Ending::Left`] si el servidor se despidió o, con `--echo`, si
/// respondió). Error: no se pudo conectar (TCP rechazado, dirección que no
/// existe).
pub fn run(
    settings: &Settings,
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> io::Result<Ending> {
    run_on(settings, lines_of(input), Arc::new(Lines::new(output)))
}

/// Corre el cliente hasta que la sesión termina, para cualquier interfaz.
///
/// `input` da las líneas del usuario una a una (un canal, en el cliente
/// gráfico; el cliente envía `:q` cuando se acaba); `screen` recibe lo que
/// hay que mostrar, desde los hilos del cliente. Devuelve lo mismo que
/// [`run`].
pub fn run_on(
    settings: &Settings,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    match &settings.mode {
        Mode::Tcp => terminal::run(settings, input, screen),
        Mode::Udp => udp::run(settings, input, screen),
        Mode::Echo(message) => echo::run(&settings.addr, message, screen.as_ref()),
    }
}

/// Las líneas de `input` hasta su fin o su primer error de lectura.
pub fn lines_of(input: impl BufRead) -> impl Iterator<Item = String> {
    input.split(b'\n').map_while(Result::ok).map(|raw| {
        let text = String::from_utf8_lossy(&raw);
        text.trim_end_matches('\r').to_string()
    })
}

/// La primera dirección de `addr` (`HOST:PUERTO`). Error: no resuelve a
/// ninguna.
pub fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    })
}

/// Un socket UDP "conectado" al servidor: `connect` en UDP no envía nada,
/// solo fija el destino de `send` y filtra lo que llega a ese origen.
pub fn udp_socket_for(server: SocketAddr) -> io::Result<UdpSocket> {
    let any = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(server)?;
    Ok(socket)
}
