//! El cliente del programa completo: el del curso (`curso::cliente`: dos
//! hilos, TCP con UDP opcional, `--udp`, `--echo`), más lo que hace falta
//! para hablar con el servidor completo cuando UDP pierde o lo ponen a
//! prueba:
//!
//! - `proof`: la prueba de la dirección UDP (la cookie del servidor, como
//!   el *Retry* de QUIC): una sonda rellenada, y lo demás detrás;
//! - `recovery`: antes de entrar, cada línea por UDP se repite si su
//!   respuesta no llega (lo que es seguro repetir), las copias tardías no
//!   se muestran, el `:q` se repite hasta la despedida;
//! - `seams`: dos enchufes del lado UDP, el enlace (el laboratorio de
//!   pérdidas) y la entrega confiable (`--reliable`).
//!
//! Lo que se muestra, cómo termina la sesión y las [`Settings`] son las del
//! curso: el cliente gráfico y el de terminal usan estas funciones con los
//! mismos tipos. No lee la línea de comandos (`client_config` lo hace).

pub(crate) mod core;
mod proof;
mod recovery;
pub mod seams;
mod terminal;
mod udp;

pub use crate::curso::cliente::{Ending, Lines, Mode, Screen, Settings, Shown, ending, screen};
pub use seams::{DEFAULT_KEEPALIVE, Plugins};

use crate::curso::cliente::{echo, lines_of};
use std::io::{self, BufRead, Write};
use std::sync::Arc;

/// Corre el cliente completo hasta que la sesión termina, con texto de
/// entrada y de salida (la terminal, una tubería, las pruebas), con lo que
/// enchufa `plugins` ([`Plugins::default`]: el socket tal cual, sin
/// entrega confiable). Lo mismo que `curso::cliente::run`, y el mismo
/// resultado.
pub fn run(
    settings: &Settings,
    plugins: Plugins,
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> io::Result<Ending> {
    run_on(
        settings,
        plugins,
        lines_of(input),
        Arc::new(Lines::new(output)),
    )
}

/// Corre el cliente completo hasta que la sesión termina, para cualquier
/// interfaz: lo mismo que `curso::cliente::run_on`, con `plugins`.
pub fn run_on(
    settings: &Settings,
    plugins: Plugins,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    match &settings.mode {
        Mode::Tcp => terminal::run(settings, plugins, input, screen),
        Mode::Udp => udp::run(settings, plugins, input, screen),
        Mode::Echo(message) => echo::run(&settings.addr, message, screen.as_ref()),
    }
}
