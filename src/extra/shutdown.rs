//! El apagado ordenado: con SIGINT (Ctrl+C en la terminal) o
//! SIGTERM (lo que envían `kill` y `systemctl stop`), el servidor avisa a
//! cada cliente `[SERVER] Client: The server is shutting down.`, deja en
//! disco todo lo aplicado, cierra las conexiones y termina con código 0.
//!
//! Un manejador de señales interrumpe a un hilo en cualquier punto (quizá
//! con un candado tomado), así que solo puede hacer operaciones
//! *async-signal-safe*: aquí, guardar el número de la señal en un atómico.
//! Un hilo vigía lo mira cada `POLL` y hace el trabajo de verdad fuera del
//! manejador. No sabe de protocolo más allá del aviso: las colas son de
//! `outbox` y el registro de conexiones, de `servidor`.

use crate::curso::session::Chat;
use crate::extra::logger::Logger;
use crate::extra::notices::Notice;
use crate::extra::registry::Connections;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Cada cuánto mira el vigía si llegó una señal.
const POLL: Duration = Duration::from_millis(50);

/// Cuánto se espera, como mucho, a que el aviso de apagado salga por todas
/// las colas antes de cerrarlas.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// La señal recibida (0: ninguna).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signum: i32) {
    // Lo único que hace: un `store` atómico es async-signal-safe.
    RECEIVED.store(signum, Ordering::SeqCst);
}

/// Instala el manejador de SIGINT y SIGTERM con `signal(2)` de la biblioteca
/// de C (la misma que usa `std`; declarada aquí porque `std` no la ofrece).
/// Error: el de `signal` si el sistema la rechaza.
fn install() -> io::Result<()> {
    unsafe extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
    /// `SIG_ERR` en Linux: `(void (*)(int)) -1`.
    const SIG_ERR: usize = usize::MAX;
    for signum in [SIGINT, SIGTERM] {
        // SAFETY: `on_signal` es una función `extern "C"` que vive todo el
        // programa y solo hace un `store` atómico.
        if unsafe { signal(signum, on_signal) } == SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Instala los manejadores y arranca el hilo vigía, que al llegar una señal
/// llama a [`shutdown`], le da a la consola (`logger`) un momento para
/// escribir lo que tiene y termina el proceso con código 0. Error: no se
/// pudo instalar el manejador o crear el hilo.
pub fn on_signal_shut_down(
    chat: Arc<Chat>,
    connections: Arc<Connections>,
    logger: Arc<Logger>,
) -> io::Result<()> {
    install()?;
    thread::Builder::new()
        .name("shutdown".into())
        .spawn(move || {
            let signum = loop {
                match RECEIVED.load(Ordering::SeqCst) {
                    0 => thread::sleep(POLL),
                    signum => break signum,
                }
            };
            chat.log(&format!("Signal {signum} received: shutting down"));
            shutdown(&chat, &connections, SHUTDOWN_GRACE);
            chat.log("Server stopped.");
            // La consola escribe en su propio hilo: se le da un momento
            // para vaciar su cola antes de terminar el proceso.
            logger.flush(SHUTDOWN_GRACE);
            std::process::exit(0);
        })?;
    Ok(())
}

/// El apagado en sí: no entra nadie más y la sala se vacía de una vez (así
/// no se avisan salidas: serían N² avisos); cada conexión TCP y cada
/// dirección UDP conocida recibe el aviso; todo lo aplicado en el libro se
/// escribe y sincroniza; y se cierran las colas, esperando a lo sumo
/// `grace` en total a que el aviso salga.
pub fn shutdown(chat: &Chat, connections: &Connections, grace: Duration) {
    let mut outputs = connections.close();
    outputs.extend(chat.room.close());
    chat.deliver(&outputs, &Notice::ShuttingDown.event());
    if let Err(error) = chat.ledger.flush() {
        chat.log(&format!(
            "could not flush the journal while stopping: {error:?}"
        ));
    }
    let deadline = Instant::now() + grace;
    for output in outputs {
        output.finish(deadline.saturating_duration_since(Instant::now()));
    }
}
