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
//! UDP opcional), `udp` y `echo`; el modo confiable de `udp` está en `extra::laboratorio::reliable_client`.
//! Del resto del crate importa solo lo puro que comparte con el servidor:
//! `protocolo`, `reliable` (la entrega confiable), `lossy` (el laboratorio) y
//! `sync` (la regla de los candados). Nada del servidor.

pub(crate) mod core;
mod echo;
pub(crate) mod ending;
pub(crate) mod screen;
mod terminal;
mod udp;

pub use ending::Ending;
pub use screen::{Lines, Screen, Shown};

use crate::curso::protocolo;
use crate::extra::laboratorio::lossy::{Impairment, parse_probability};
use clap::Parser;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// El largo máximo, en bytes, de una línea del servidor que el cliente
/// guarda: la más larga que envía es la lista de `:u`, unos 33 bytes por
/// usuario (30.000 usuarios caben). Un servidor roto o ajeno que envía una
/// línea sin fin no agota la memoria del cliente: se descarta.
const MAX_SERVER_LINE_BYTES: usize = 1 << 20;

/// Cuánto espera, como mucho, la respuesta a una línea antes de entrar a la
/// sala (y la respuesta del eco). Pasado ese tiempo sigue igual.
const REPLY_WAIT: Duration = Duration::from_secs(10);

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

/// La configuración del cliente, tal como la lee `cliente --help`.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "cliente",
    about = "Cliente de terminal del chat. Lee líneas de la entrada estándar y las envía;\n\
             muestra lo que llega del servidor. En una terminal, con un editor de líneas\n\
             (flechas, historial) y lo que llega impreso encima de lo que se escribe; en una\n\
             tubería, línea por línea, para guiones. El fin de la entrada (Ctrl-D) o Ctrl-C\n\
             equivalen a :q.",
    override_usage = "cliente [opciones]",
    help_template = "{about}\n\nUso: {usage}\n\nOpciones:\n{options}\n{after-help}",
    after_help = concat!(
        "Dentro del chat: :register <nombre> <clave>, :login <nombre> <clave>, :help.\n",
        "En modo TCP, :udp y :tcp eligen por dónde viajan las líneas siguientes.\n",
        "Con la entrada en una terminal, :register <nombre> o :login <nombre> sin clave\n",
        "la piden sin mostrarla.\n\n",
        "Códigos de salida: 0 saliste (:q o fin de la entrada); 1 se perdió la conexión\n",
        "(también una cola de salida llena); 2 opciones inválidas; 3 no hay servidor\n",
        "(TCP rechazado o UDP sin respuesta); 4 el servidor se apagó; 5 no iniciaste\n",
        "sesión a tiempo; 6 servidor lleno o demasiadas conexiones desde tu dirección;\n",
        "7 demasiadas contraseñas fallidas; 8 entraste con tu cuenta desde otra dirección\n",
        "(solo UDP)."
    ),
    disable_help_flag = true,
    max_term_width = 100
)]
pub struct Config {
    /// Servidor al que conectarse
    #[arg(long, value_name = "HOST:PUERTO", default_value = protocolo::DEFAULT_ADDR,
          value_parser = crate::curso::protocolo::host_and_port)]
    pub addr: String,

    /// Usar solo UDP (cada datagrama lleva el token de la sesión)
    #[arg(long, conflicts_with = "echo")]
    pub udp: bool,

    /// Enviar MENSAJE al servidor de eco, mostrar la respuesta y salir
    #[arg(long, value_name = "MENSAJE")]
    pub echo: Option<String>,

    /// Con --udp: segundos sin enviar nada tras los que se envía :ping,
    /// para que el servidor no cierre la sesión (su --udp-idle-secs es 300)
    #[arg(long, value_name = "S", default_value_t = 60.0, value_parser = positive_seconds)]
    pub udp_keepalive_secs: f64,

    /// Con --udp: entrega confiable hecha a mano (números de secuencia,
    /// acuses y retransmisiones, ver src/extra/laboratorio/reliable.rs): cada línea llega una
    /// vez y en orden aunque se pierdan datagramas
    #[arg(long, requires = "udp")]
    pub reliable: bool,

    /// Con --reliable: retransmisiones seguidas sin acuse tras las que se
    /// da al servidor por ido (el plazo se duplica en cada una)
    #[arg(long, value_name = "N", default_value_t = crate::extra::laboratorio::reliable::MAX_RETRIES,
          value_parser = clap::value_parser!(u32).range(1..=30))]
    pub retries: u32,

    /// Laboratorio de UDP: probabilidad (0 a 1) de perder cada datagrama que
    /// el cliente envía o recibe
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub loss: f64,

    /// Laboratorio de UDP: probabilidad de duplicar cada datagrama
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub dup: f64,

    /// Laboratorio de UDP: probabilidad de que un datagrama llegue después
    /// del siguiente
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub reorder: f64,

    /// Laboratorio de UDP: semilla del generador, para repetir una corrida
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Muestra esta ayuda
    #[arg(short, long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl Config {
    /// Lee los argumentos (sin el nombre del programa). Error: el de `clap`
    /// (también `--help`, que sale con código 0).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("cliente".to_string()).chain(args))
    }

    /// Cada cuánto, en silencio, el modo `--udp` envía `:ping`.
    pub fn keepalive(&self) -> Duration {
        Duration::from_secs_f64(self.udp_keepalive_secs)
    }

    /// El lado UDP: el mantenimiento y el laboratorio.
    fn udp_tuning(&self) -> core::UdpTuning {
        core::UdpTuning {
            keepalive: self.keepalive(),
            impairment: Impairment {
                loss: self.loss,
                dup: self.dup,
                reorder: self.reorder,
            },
            seed: self.seed,
            reliable: self.reliable.then_some(self.retries),
        }
    }

    /// El modo que eligen `--udp` y `--echo`.
    pub fn mode(&self) -> Mode {
        match (&self.echo, self.udp) {
            (Some(message), _) => Mode::Echo(message.clone()),
            (None, true) => Mode::Udp,
            (None, false) => Mode::Tcp,
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
    config: &Config,
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> io::Result<Ending> {
    run_on(config, lines_of(input), Arc::new(Lines::new(output)))
}

/// Corre el cliente hasta que la sesión termina, para cualquier interfaz.
///
/// `input` da las líneas del usuario una a una (un canal, en el cliente
/// gráfico; el cliente envía `:q` cuando se acaba); `screen` recibe lo que
/// hay que mostrar, desde los hilos del cliente. Devuelve lo mismo que
/// [`run`].
pub fn run_on(
    config: &Config,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    match config.mode() {
        Mode::Tcp => terminal::run(config, input, screen),
        Mode::Udp => udp::run(config, input, screen),
        Mode::Echo(message) => echo::run(&config.addr, &message, screen.as_ref()),
    }
}

/// Las líneas de `input` hasta su fin o su primer error de lectura.
fn lines_of(input: impl BufRead) -> impl Iterator<Item = String> {
    input.split(b'\n').map_while(Result::ok).map(|raw| {
        let text = String::from_utf8_lossy(&raw);
        text.trim_end_matches('\r').to_string()
    })
}

/// `--udp-keepalive-secs`: un número de segundos mayor que 0.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err(format!("{text} no es un número de segundos mayor que 0")),
    }
}

pub(crate) fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    })
}

/// Un socket UDP "conectado" al servidor: `connect` en UDP no envía nada,
/// solo fija el destino de `send` y filtra lo que llega a ese origen.
fn udp_socket_for(server: SocketAddr) -> io::Result<UdpSocket> {
    let any = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(server)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let parse = |l: &[&str]| Config::from_args(l.iter().map(|s| s.to_string()));
        let config = parse(&[]).expect("válido");
        assert_eq!(
            (config.addr.as_str(), config.mode()),
            ("127.0.0.1:5500", Mode::Tcp)
        );
        let config = parse(&["--addr", "[::1]:7", "--udp"]).expect("válido");
        assert_eq!(
            (config.addr.as_str(), config.mode()),
            ("[::1]:7", Mode::Udp)
        );
        let config = parse(&["--echo", "Hola Server!"]).expect("válido");
        assert_eq!(config.mode(), Mode::Echo("Hola Server!".into()));
        assert!(parse(&["--help"]).is_err());
        assert!(parse(&["--addr"]).is_err());
        assert!(parse(&["--echo"]).is_err());
        assert!(parse(&["x"]).is_err());
        assert!(parse(&["--udp-keepalive-secs", "0"]).is_err());
        assert!(
            parse(&["--reliable"]).is_err(),
            "--reliable es solo de --udp"
        );
        let config = parse(&["--udp", "--reliable", "--retries", "3"]).expect("válido");
        assert_eq!(config.udp_tuning().reliable, Some(3));
        assert_eq!(
            parse(&["--udp"]).expect("válido").udp_tuning().reliable,
            None
        );
        assert!(parse(&["--udp", "--reliable", "--retries", "0"]).is_err());
        let config = parse(&["--udp", "--udp-keepalive-secs", "0.5"]).expect("válido");
        assert_eq!(config.keepalive(), Duration::from_millis(500));
    }

    #[test]
    fn every_ending_has_its_own_exit_code_and_the_help_lists_it() {
        let help = Config::from_args(["--help".to_string()])
            .expect_err("--help")
            .to_string();
        let mut codes: Vec<u8> = ending::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ending::ALL.len(), "códigos repetidos");
        for code in codes {
            let listed = [format!(" {code} "), format!("\n{code} ")];
            assert!(
                listed.iter().any(|text| help.contains(text)),
                "falta {code} en:\n{help}"
            );
        }
    }
}
