//! El modo `--udp` del cliente (enunciado 000): solo UDP, cada datagrama
//! con el token de la sesión, un hilo que envía y otro que recibe. El
//! receptor de datagramas también lo usa el modo TCP para su lado UDP.

use super::core::{Shared, Wire, converse};
use super::ending::Ending;
use super::screen::{Screen, Shown};
use super::{Config, resolve, udp_socket_for};
use crate::curso::protocolo::{Event, Problem};
use crate::extra::laboratorio::reliable_client;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cada cuánto despierta un receptor UDP para ver si debe terminar.
const UDP_POLL: Duration = Duration::from_millis(200);

/// Cuánto espera el modo `--udp` la despedida tras enviar `:q`, repitiendo
/// el `:q` cada medio segundo (ver [`Shared::repeat_quit`]): con 30 % de
/// pérdida en cada sentido, dieciséis idas y vueltas casi nunca fallan
/// seguidas; si fallan, la sesión termina como perdida.
const UDP_GOODBYE_WAIT: Duration = Duration::from_secs(8);

/// El modo `--udp`: abre un socket UDP hacia `config.addr` y conversa por
/// datagramas hasta que la sesión termina. Error: la dirección no existe o
/// no se pudo abrir el socket.
pub(super) fn run(
    config: &Config,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    let server = resolve(&config.addr)?;
    let socket = Arc::new(udp_socket_for(server)?);
    let tuning = config.udp_tuning();
    let shared = Shared::new(screen, server, Some(Arc::clone(&socket)), tuning);
    shared.screen.show(Shown::UdpOnly {
        port: socket.local_addr()?.port(),
        server,
    });
    converse(&shared, input, Wire::Udp, || {
        receive_datagrams(&shared, &socket, true);
    })?;
    shared.show_reliable_counts();
    Ok(shared.ending())
}

/// Recibe datagramas hasta que la sesión termina. `stop_on_goodbye`: el
/// modo `--udp`, donde la despedida llega por aquí; en modo TCP llega por
/// la conexión.
pub(super) fn receive_datagrams(shared: &Shared, socket: &UdpSocket, stop_on_goodbye: bool) {
    let Ok(me) = socket.local_addr() else { return };
    // En modo confiable, más seguido: el temporizador de retransmisión.
    let poll = if shared.reliable.is_some() {
        reliable_client::TICK
    } else {
        UDP_POLL
    };
    if socket.set_read_timeout(Some(poll)).is_err() {
        return;
    }
    let mut buffer = vec![0u8; 65_536];
    let mut goodbye_deadline: Option<Instant> = None;
    while !finished(shared, stop_on_goodbye, &mut goodbye_deadline) {
        if stop_on_goodbye {
            shared.keep_alive(socket);
            shared.repeat_quit(socket);
        }
        shared.reliable_tick(socket);
        match socket.recv(&mut buffer) {
            Ok(n) => {
                for datagram in shared.arrived(&buffer[..n]) {
                    receive_datagram(shared, socket, &datagram, me, stop_on_goodbye);
                }
            }
            // `Interrupted`: una señal llegó durante la espera. Tras Ctrl-Z
            // y `fg` (o con el manejador de SIGWINCH del editor de líneas),
            // un `recv` con plazo (`SO_RCVTIMEO`) falla con `EINTR` y nunca
            // se reinicia solo (signal(7)): no es un error de la red.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            // Un ICMP "puerto inalcanzable": nadie escucha en ese puerto.
            // El que envía decide si se rinde (ver `wait_for_udp_reply`).
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                shared.lock().udp_refused = true;
                shared.changed.notify_all();
            }
            Err(_) => return,
        }
    }
}

/// Las líneas de un datagrama, una por una. En modo confiable pasan antes
/// por el receptor de `reliable`, que puede devolver ninguna (un duplicado,
/// o una que llegó antes de tiempo) o varias (las que esperaban un hueco).
fn receive_datagram(
    shared: &Shared,
    socket: &UdpSocket,
    datagram: &[u8],
    me: SocketAddr,
    stop_on_goodbye: bool,
) {
    let text = String::from_utf8_lossy(datagram);
    for line in text.lines() {
        match shared.reliable_arrival(socket, line) {
            Some(lines) => {
                for line in lines {
                    receive_line(shared, socket, &line, me, stop_on_goodbye);
                }
            }
            None => receive_line(shared, socket, line, me, stop_on_goodbye),
        }
    }
}

/// `true` si el receptor debe terminar: la conexión se cerró, el servidor
/// se despidió o anunció el fin de la sesión (se apaga, o se entró desde
/// otra dirección: por UDP no hay una conexión que se cierre después del
/// aviso), o (en modo `--udp`, terminada la entrada) pasó la espera de la
/// despedida; si no se entró nunca, no hay a quién esperar.
fn finished(shared: &Shared, stop_on_goodbye: bool, deadline: &mut Option<Instant>) -> bool {
    let state = shared.lock();
    if state.closed || (stop_on_goodbye && (state.said_goodbye || state.ending.is_some())) {
        return true;
    }
    if !(stop_on_goodbye && state.input_done) {
        return false;
    }
    // En modo confiable, la espera de la despedida empieza cuando todo lo
    // enviado (también el `:q`) tiene su acuse: antes, las líneas pueden
    // seguir en la ventana. No es para siempre: si el servidor no acusa
    // nada, el emisor lo da por ido y cierra la sesión.
    if state.token.is_some() && !shared.reliable_idle() {
        return false;
    }
    let deadline = *deadline.get_or_insert_with(|| Instant::now() + UDP_GOODBYE_WAIT);
    state.token.is_none() || Instant::now() >= deadline
}

/// Una línea de un datagrama del servidor.
fn receive_line(
    shared: &Shared,
    socket: &UdpSocket,
    line: &str,
    me: SocketAddr,
    tcp_mode_off: bool,
) {
    shared.lock().heard_udp = true;
    if let Some(cookie) = crate::curso::protocolo::cookie_from_line(line) {
        return shared.resend_with_cookie(socket, cookie);
    }
    let event = Event::parse(line);
    // Tras el `:q` propio el token ya no vale. En modo TCP, la respuesta
    // tardía a un datagrama de antes (el `:ping` que presenta la dirección
    // UDP) no es noticia. En modo `--udp`, es la respuesta a un `:q`
    // repetido ([`Shared::repeat_quit`]): el servidor ya cerró la sesión, y
    // la despedida que se perdió no va a llegar.
    if event == Some(Event::Error(Problem::BadToken)) {
        let mut state = shared.lock();
        if state.input_done {
            state.said_goodbye |= tcp_mode_off;
            drop(state);
            shared.changed.notify_all();
            return;
        }
    }
    // Una respuesta de verdad: la dirección está probada.
    shared.proven(socket);
    shared.receive(line, me);
}
