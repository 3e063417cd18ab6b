//! El modo `--udp` del cliente (enunciado 000): solo UDP, cada datagrama
//! con el token de la sesión, un hilo que envía y otro que recibe. El
//! receptor de datagramas también lo usa el modo TCP para su lado UDP.
//!
//! UDP no tiene conexión: nada avisa que el servidor se fue, y un
//! datagrama perdido no se reenvía. Este cliente no repite nada (el
//! enunciado acepta que UDP pierda); sí pone un tope a cada espera. Quien
//! calla más que el `--udp-idle-secs` del servidor (300 s) pierde la
//! sesión, como en el enunciado: el cliente completo envía `:ping` en el
//! silencio para que no pase.

use super::core::{Shared, Wire, converse};
use super::ending::Ending;
use super::screen::{Screen, Shown};
use super::{Settings, resolve, udp_socket_for};
use crate::curso::protocolo::{Event, Problem};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cada cuánto despierta un receptor UDP para ver si debe terminar.
const UDP_POLL: Duration = Duration::from_millis(200);

/// Cuánto espera el modo `--udp` la despedida tras enviar `:q`: si se
/// perdió, la sesión termina igual.
const UDP_GOODBYE_WAIT: Duration = Duration::from_secs(3);

/// El modo `--udp`: abre un socket UDP hacia `settings.addr` y conversa
/// por datagramas hasta que la sesión termina. Error: la dirección no
/// existe o no se pudo abrir el socket.
pub(super) fn run(
    settings: &Settings,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    let server = resolve(&settings.addr)?;
    let socket = Arc::new(udp_socket_for(server)?);
    let udp = Some(Arc::clone(&socket));
    let shared = Shared::new(screen, server, udp);
    shared.screen.show(Shown::UdpOnly {
        port: socket.local_addr()?.port(),
        server,
    });
    converse(&shared, input, Wire::Udp, || {
        receive_datagrams(&shared, &socket, true);
    })?;
    Ok(shared.ending())
}

/// Recibe datagramas hasta que la sesión termina. `udp_only`: el modo
/// `--udp`, donde la despedida llega por aquí; en modo TCP, llega por la
/// conexión.
pub(super) fn receive_datagrams(shared: &Shared, socket: &UdpSocket, udp_only: bool) {
    let Ok(me) = socket.local_addr() else { return };
    // Un plazo de lectura: sin él, `recv` esperaría para siempre un
    // datagrama que quizá no llegue, y el receptor no vería que la sesión
    // terminó.
    if socket.set_read_timeout(Some(UDP_POLL)).is_err() {
        return;
    }
    let mut buffer = vec![0u8; 65_536];
    let mut goodbye_deadline: Option<Instant> = None;
    while !finished(shared, udp_only, &mut goodbye_deadline) {
        match socket.recv(&mut buffer) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buffer[..n]);
                for line in text.lines() {
                    receive_line(shared, line, me);
                }
            }
            // `Interrupted`: una señal llegó durante la espera (Ctrl-Z y
            // `fg`); un `recv` con plazo no se reinicia solo (signal(7)).
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            // Un ICMP "puerto inalcanzable": nadie escucha en ese puerto.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                shared.lock().udp_refused = true;
                shared.changed.notify_all();
            }
            Err(_) => return,
        }
    }
}

/// `true` si el receptor debe terminar: la conexión se cerró, o (modo
/// `--udp`) el servidor se despidió o anunció el fin de la sesión, o,
/// terminada la entrada, pasó la espera de la despedida; si no se entró
/// nunca, no hay a quién esperar.
fn finished(shared: &Shared, udp_only: bool, deadline: &mut Option<Instant>) -> bool {
    let state = shared.lock();
    if state.closed || (udp_only && (state.said_goodbye || state.ending.is_some())) {
        return true;
    }
    if !(udp_only && state.input_done) {
        return false;
    }
    let deadline = *deadline.get_or_insert_with(|| Instant::now() + UDP_GOODBYE_WAIT);
    state.token.is_none() || Instant::now() >= deadline
}

/// Una línea de un datagrama del servidor.
fn receive_line(shared: &Shared, line: &str, me: SocketAddr) {
    // Tras el `:q` propio el token ya no vale: en modo TCP, la respuesta
    // tardía a un datagrama de antes no es noticia.
    if Event::parse(line) == Some(Event::Error(Problem::BadToken)) && shared.lock().input_done {
        return;
    }
    shared.receive(line, me);
}
