//! El modo `--udp` del cliente (enunciado 000): solo UDP, cada datagrama
//! con el token de la sesión, un hilo que envía y otro que recibe. El
//! receptor de datagramas también lo usa el modo TCP para su lado UDP.

use super::Settings;
use super::core::{Shared, State, Wire, converse};
use super::ending::Ending;
use super::proof::UNPROVEN_DATAGRAM_BYTES;
use super::screen::{Screen, Shown};
use super::seams::{Gone, Plugins};
use crate::curso::cliente::{resolve, udp_socket_for};
use crate::curso::protocolo::{Event, Problem};
use crate::extra::receive_buffer;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

// La entrega confiable, si se enchufó una (`Plugins::reliable`; el curso
// no la tiene): la máquina de estados decide qué sale y qué se muestra, y
// aquí se enmarca cada línea con la prueba de la sesión y se envía. Va
// *debajo* de la sesión: también el `:login` viaja numerado, y la cookie
// que prueba la dirección va delante del número, fuera de la entrega
// confiable, porque el servidor solo la atiende para una dirección probada.
impl Shared {
    /// Envía cada línea de la entrega confiable, enmarcada según `state`.
    fn send_packets(&self, udp: &UdpSocket, state: &State, lines: &[String]) -> io::Result<()> {
        for line in lines {
            self.transmit(udp, frame(state, line).as_bytes())?;
        }
        Ok(())
    }

    /// Una línea del usuario en modo confiable. `state` ya está tomado (el
    /// orden de los candados: `state` y después el de la entrega).
    pub(super) fn send_reliable(
        &self,
        udp: &UdpSocket,
        state: &State,
        line: &str,
    ) -> io::Result<()> {
        let Some(reliable) = &self.reliable else {
            return Ok(());
        };
        // Si el servidor ya se dio por ido, no sale nada: lo atiende
        // `reliable_tick`, que cierra la sesión.
        self.send_packets(udp, state, &reliable.send(line, Instant::now()))
    }

    /// Sale otra vez todo lo que está en vuelo, sin esperar al
    /// temporizador: llegó la cookie (lo enviado sin ella se descartó), o
    /// una respuesta se hace esperar.
    pub(super) fn resend_reliable(&self, udp: &UdpSocket, state: &State) {
        if let Some(reliable) = &self.reliable {
            let _ = self.send_packets(udp, state, &reliable.resend(Instant::now()));
        }
    }

    /// Una línea de un datagrama del servidor, en modo confiable: las que
    /// ya se pueden mostrar (y sale el acuse). `None` si no es de la
    /// entrega confiable (la cookie) o no hay entrega confiable.
    fn reliable_arrival(&self, udp: &UdpSocket, line: &str) -> Option<Vec<String>> {
        let reliable = self.reliable.as_ref()?;
        let mut state = self.lock();
        let arrival = reliable.arrival(line, Instant::now())?;
        state.heard_udp = true;
        // Un datagrama numerado del servidor es una respuesta de verdad: la
        // dirección está probada. La cookie se guarda: hasta que llegue el
        // token, es la prueba de cada datagrama.
        if !arrival.deliver.is_empty() {
            state.udp_proven = true;
        }
        let _ = self.send_packets(udp, &state, &arrival.send);
        Some(arrival.deliver)
    }

    /// El temporizador, llamado por el hilo de los temporizadores cuando
    /// vence un plazo (y por el receptor en cada vuelta): retransmite lo
    /// vencido y, si el servidor no acusó nada tras los
    /// reintentos, termina la sesión como [`Ending::Lost`].
    fn reliable_tick(&self, udp: &UdpSocket) {
        let Some(reliable) = &self.reliable else {
            return;
        };
        let mut state = self.lock();
        if state.closed {
            return;
        }
        match reliable.tick(Instant::now()) {
            Ok(lines) => {
                let _ = self.send_packets(udp, &state, &lines);
            }
            Err(Gone { retries }) => {
                state.ending = Some(Ending::Lost);
                state.closed = true;
                drop(state);
                self.changed.notify_all();
                let text = format!(
                    "The server did not acknowledge {retries} retransmissions in a row: it is gone."
                );
                self.screen.show(Shown::Note {
                    text,
                    warning: true,
                });
            }
        }
    }
}

/// El datagrama de `line` (de la entrega confiable), con lo que va
/// delante: la prueba de la sesión. El servidor solo atiende un datagrama
/// confiable que la trae: la cookie de la dirección (desde que llega, y
/// mientras no haya token o la dirección no esté probada) o el token de la
/// sesión. Sin cookie y sin probar, se rellena con espacios como la sonda
/// del modo sin entrega confiable (el servidor responde a una dirección
/// sin probar a lo sumo el triple de lo recibido, y la cookie debe caber).
fn frame(state: &State, line: &str) -> String {
    let mut datagram = String::new();
    let needs_cookie = state.token.is_none() || !state.udp_proven;
    if let Some(cookie) = state.cookie.as_ref().filter(|_| needs_cookie) {
        datagram.push_str(cookie);
        datagram.push(' ');
    }
    if let Some(token) = &state.token {
        datagram.push_str(token);
        datagram.push(' ');
    }
    datagram.push_str(line);
    if needs_cookie && state.cookie.is_none() {
        let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
        datagram.push_str(&" ".repeat(pad));
    }
    datagram.push('\n');
    datagram
}

/// El socket UDP del cliente, "conectado" a `server`, con un búfer de
/// recepción grande ([`receive_buffer::CLIENT_BYTES`]): lo que le llega de
/// golpe espera ahí en vez de perderse. Si el kernel no lo agranda, el
/// cliente anda igual y solo pierde antes. Error: no se pudo abrir.
pub(super) fn udp_socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let socket = udp_socket_for(server)?;
    let _ = receive_buffer::enlarge(&socket, receive_buffer::CLIENT_BYTES);
    Ok(socket)
}

/// Cada cuánto despierta un receptor UDP para ver si debe terminar.
const UDP_POLL: Duration = Duration::from_millis(200);

/// Cuánto espera el modo `--udp` la despedida tras enviar `:q`, repitiendo
/// el `:q` cada medio segundo (ver [`Shared::repeat_quit`]): con 30 % de
/// pérdida en cada sentido, dieciséis idas y vueltas casi nunca fallan
/// seguidas; si fallan, la sesión termina como perdida.
const UDP_GOODBYE_WAIT: Duration = Duration::from_secs(8);

/// El modo `--udp`: abre un socket UDP hacia `settings.addr` y conversa
/// por datagramas hasta que la sesión termina. Error: la dirección no
/// existe o no se pudo abrir el socket.
pub(super) fn run(
    settings: &Settings,
    plugins: Plugins,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    let server = resolve(&settings.addr)?;
    let socket = Arc::new(udp_socket(server)?);
    let udp = Some(Arc::clone(&socket));
    let shared = Shared::new(screen, server, udp, plugins);
    shared.screen.show(Shown::UdpOnly {
        port: socket.local_addr()?.port(),
        server,
    });
    converse(&shared, input, Wire::Udp, || {
        receive_datagrams(&shared, &socket, true);
    })?;
    Ok(shared.ending())
}

/// Recibe datagramas hasta que la sesión termina. `stop_on_goodbye`: el
/// modo `--udp`, donde la despedida llega por aquí; en modo TCP llega por
/// la conexión. En modo confiable, mientras tanto, un hilo propio atiende
/// los plazos del emisor a su hora ([`ReliableMode::wait`]); si no se
/// puede crear, los atiende el receptor en cada vuelta, cada [`UDP_POLL`]
/// como mucho.
///
/// [`ReliableMode::wait`]: super::seams::ReliableMode::wait
pub(super) fn receive_datagrams(shared: &Shared, socket: &UdpSocket, stop_on_goodbye: bool) {
    let Some(reliable) = shared.reliable.as_deref() else {
        return receive_loop(shared, socket, stop_on_goodbye);
    };
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let _ = thread::Builder::new()
            .name("reliable timers".into())
            .spawn_scoped(scope, || {
                while !done.load(Ordering::Acquire) {
                    reliable.wait(UDP_POLL);
                    shared.reliable_tick(socket);
                }
            });
        receive_loop(shared, socket, stop_on_goodbye);
        done.store(true, Ordering::Release);
        reliable.interrupt();
    });
}

/// El bucle del receptor: cada datagrama que llega, hasta que la sesión
/// termina.
fn receive_loop(shared: &Shared, socket: &UdpSocket, stop_on_goodbye: bool) {
    let Ok(me) = socket.local_addr() else { return };
    if socket.set_read_timeout(Some(UDP_POLL)).is_err() {
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
/// por su receptor, que puede devolver ninguna (un duplicado,
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
    let idle = shared.reliable.as_ref().is_none_or(|r| r.is_idle());
    if state.token.is_some() && !idle {
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
    if let Some(cookie) = crate::extra::cookie::cookie_from_line(line) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_goes_before_the_token_and_the_sequence_number() {
        let screen = Arc::new(super::super::Lines::new(Vec::new()));
        let server = "127.0.0.1:5500".parse().expect("dirección");
        let shared = Shared::new(screen, server, None, Plugins::default());
        let mut state = shared.lock();
        let login = ":seq 0 :login ana clave";
        let probe = frame(&state, login);
        assert_eq!(probe.len(), UNPROVEN_DATAGRAM_BYTES, "rellenada: {probe:?}");
        assert!(probe.starts_with(":seq 0 :login ana clave "));
        state.cookie = Some("C0OKIE".into());
        assert_eq!(frame(&state, login), "C0OKIE :seq 0 :login ana clave\n");
        state.token = Some("T0KEN".into());
        state.udp_proven = true;
        assert_eq!(
            frame(&state, ":ack 4 6"),
            "T0KEN :ack 4 6\n",
            "probada: sin cookie ni relleno"
        );
    }
}
