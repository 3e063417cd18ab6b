//! El plazo para iniciar sesión (`--signin-timeout-secs`): quien se conecta
//! y no entra, aunque envíe un byte cada tanto sin completar nunca una línea
//! (*slowloris*), no ocupa un hilo para siempre.
//!
//! Un hilo propio revisa el registro de conexiones ([`Connections`]) unas
//! veces por segundo: a la que pasó el plazo sin iniciar sesión le avisa
//! por qué y la cierra, y su hilo de cliente ve el fin de la conexión como
//! si el cliente se hubiera ido. El plazo es total, desde que se aceptó la
//! conexión: ningún byte lo renueva. El hilo del cliente no sabe de plazos:
//! solo le avisa a su lugar en el registro cuando la conexión entra
//! ([`crate::curso::seams::Place::signed_in`]).

use crate::curso::session::Chat;
use crate::extra::notices::Notice;
use crate::extra::registry::Connections;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Cada cuánto se revisa el registro: el plazo se cumple con este margen.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Cuánto se espera, como mucho, a que salga el aviso antes de cerrar.
const NOTICE_GRACE: Duration = Duration::from_millis(500);

/// Arranca el hilo que cierra las conexiones de `connections` que pasan
/// `timeout` sin iniciar sesión, con el aviso
/// [`Notice::SigninTimeout`] y una línea en la consola de `chat`. Error: no
/// se pudo crear el hilo.
pub fn start(chat: Arc<Chat>, connections: Arc<Connections>, timeout: Duration) -> io::Result<()> {
    let secs = timeout.as_secs();
    thread::Builder::new()
        .name("sign-in deadline".into())
        .spawn(move || {
            loop {
                thread::sleep(SWEEP_EVERY);
                for (peer, output) in connections.unsigned_for(timeout) {
                    chat.send(&output, &Notice::SigninTimeout(secs).event());
                    chat.log(&format!(
                        "{peer} (TCP) did not sign in within {secs} s; closed"
                    ));
                    output.finish(NOTICE_GRACE);
                }
            }
        })?;
    Ok(())
}
