//! El núcleo del cliente completo, común a todos sus modos: el estado de la sesión
//! que comparten el hilo que envía y los que reciben (en qué etapa está,
//! cuántas respuestas llegaron, el token, el socket UDP), cómo se lee cada
//! línea del servidor y cómo se envía cada línea del usuario. No abre
//! conexiones: eso lo hace cada modo.

use super::ending::Ending;
use super::screen::{Screen, Shown};
use super::seams::{Link, Plugins, ReliableMode};
use crate::curso::cliente::REPLY_WAIT;
pub(crate) use crate::curso::cliente::core::Entry;
use crate::curso::cliente::core::{self as course, echo_own_line, transport_switch};
use crate::curso::protocolo::{self, Command, Event, Problem};
use crate::curso::sync::wait_timeout_while;
use crate::extra::invisible;
use crate::extra::notices::Notice;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Cuánto espera el modo TCP, antes de enviar `:q`, la respuesta a un
/// `:ping` por UDP: el servidor atiende los datagramas en orden, así que
/// cuando llega su `pong` ya procesó las líneas que se enviaron por UDP
/// antes. Sin esto, el `:q` por TCP les gana y se pierden.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct State {
    /// Hasta dónde entró.
    pub(crate) entry: Entry,
    /// Respuestas completas recibidas del servidor (para esperar la de la
    /// última línea enviada antes de enviar la siguiente).
    pub(crate) replies: u64,
    /// El nombre de la última línea `:login`/`:register` enviada.
    pub(crate) name: Option<String>,
    /// El token de la sesión, cuando llega.
    pub(crate) token: Option<String>,
    /// El socket UDP (siempre en modo `--udp`; en modo TCP, tras el token).
    pub(crate) udp: Option<Arc<UdpSocket>>,
    /// El servidor ya respondió algo que no es una cookie a este socket UDP:
    /// su dirección está probada (ver `cookie` en el servidor).
    pub(crate) udp_proven: bool,
    /// Mientras la dirección no está probada: la sonda enviada y los
    /// datagramas que esperan la cookie, en orden.
    pub(crate) unproven: Vec<String>,
    /// La última cookie que dio el servidor: para los datagramas que salgan
    /// antes de la primera respuesta de verdad, y para repetir una entrada
    /// (ver [`Shared::retry`]).
    pub(crate) cookie: Option<String>,
    /// Modo confiable: cuándo salió por última vez otra vez lo que está en
    /// vuelo porque llegó una cookie (ver [`COOKIE_RESEND_GAP`]).
    ///
    /// [`COOKIE_RESEND_GAP`]: super::proof::COOKIE_RESEND_GAP
    pub(crate) cookie_resent: Option<Instant>,
    /// En modo TCP: las líneas salen por UDP (`:udp`) en vez de TCP.
    pub(crate) lines_by_udp: bool,
    /// Se terminó la entrada del usuario.
    pub(crate) input_done: bool,
    /// El servidor se despidió.
    pub(crate) said_goodbye: bool,
    /// La conexión terminó.
    pub(crate) closed: bool,
    /// Por qué va a terminar, según el último aviso del servidor.
    pub(crate) ending: Option<Ending>,
    /// `:ping` que envió el propio cliente (mantenimiento, vaciado) cuyo
    /// `pong` no se muestra.
    pub(crate) auto_pings: u32,
    /// El último evento del servidor fue un error (ver
    /// [`Shared::is_stale`]).
    pub(crate) after_error: bool,
    /// Se envió `:funds` para saber si el servidor tomó el saldo cuya
    /// respuesta no llegó (ver [`Shared::retry`]): su error y la pregunta
    /// repetida no se muestran.
    pub(crate) probing_balance: bool,
    /// `:ping` enviados (por cualquier transporte) y `pong` recibidos: el
    /// servidor responde cada uno en orden, así que con `pongs == pings`
    /// ya atendió todo lo enviado antes del último `:ping`.
    pub(crate) pings: u64,
    pub(crate) pongs: u64,
    /// En modo TCP: alguna línea salió por UDP desde el último vaciado.
    pub(crate) sent_by_udp: bool,
    /// Llegó algún datagrama del servidor a este socket UDP.
    pub(crate) heard_udp: bool,
    /// El sistema dijo que nadie escucha en el puerto UDP del servidor
    /// (un ICMP "puerto inalcanzable").
    pub(crate) udp_refused: bool,
    /// Cuándo salió el último datagrama: el mantenimiento solo hace falta
    /// tras un rato de silencio.
    pub(crate) last_udp_send: Instant,
    /// Ya se avisó que el servidor no responde al mantenimiento.
    pub(crate) warned_silence: bool,
}

/// Lo que comparten el hilo que envía y los que reciben.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) changed: Condvar,
    pub(crate) screen: Arc<dyn Screen>,
    pub(crate) server: SocketAddr,
    /// El modo TCP (con `:udp`/`:tcp`); si no, el modo `--udp`.
    pub(crate) tcp_mode: bool,
    /// Cada cuánto, sin otros datagramas, el modo `--udp` envía `:ping`
    /// para que el servidor no cierre la sesión por inactividad.
    pub(crate) keepalive: Duration,
    /// Por dónde pasa cada datagrama (el socket tal cual, en el curso).
    link: Box<dyn Link>,
    /// La entrega confiable, si se enchufó una. Su candado, si tiene, se
    /// toma siempre *después* del de `state`, nunca al revés.
    pub(crate) reliable: Option<Box<dyn ReliableMode>>,
}

impl Shared {
    /// El estado de una sesión nueva. `udp`: el socket del modo `--udp`
    /// (`None` es el modo TCP, que lo abre al recibir el token);
    pub(crate) fn new(
        screen: Arc<dyn Screen>,
        server: SocketAddr,
        udp: Option<Arc<UdpSocket>>,
        plugins: Plugins,
    ) -> Arc<Shared> {
        let tcp_mode = udp.is_none();
        Arc::new(Shared {
            state: Mutex::new(State {
                entry: Entry::Outside,
                replies: 0,
                name: None,
                token: None,
                udp,
                udp_proven: false,
                unproven: Vec::new(),
                cookie: None,
                cookie_resent: None,
                lines_by_udp: false,
                input_done: false,
                said_goodbye: false,
                closed: false,
                ending: None,
                auto_pings: 0,
                probing_balance: false,
                after_error: false,
                pings: 0,
                pongs: 0,
                sent_by_udp: false,
                heard_udp: false,
                udp_refused: false,
                last_udp_send: Instant::now(),
                warned_silence: false,
            }),
            changed: Condvar::new(),
            screen,
            server,
            tcp_mode,
            keepalive: plugins.keepalive,
            link: plugins.link,
            reliable: plugins.reliable,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // El estado queda coherente en cada paso: un hilo que entró en
        // pánico no deja al resto del cliente sin él.
        crate::curso::sync::lock(&self.state)
    }

    /// Muestra una línea del servidor y actualiza el estado. Devuelve el
    /// evento reconocido, si lo hay.
    ///
    /// Primero se muestra y después se cambia el estado: el cambio es lo que
    /// despierta al hilo que envía (la respuesta llegó), y lo que ese hilo
    /// muestre después (`Me: hola`) debe quedar debajo de la respuesta.
    pub(crate) fn receive(&self, line: &str, me: SocketAddr) -> Option<Event> {
        let event = Event::parse(line);
        let (hidden, identity) = self.before_showing(&event);
        if !hidden {
            self.screen.show(Shown::Server {
                line: line.to_string(),
                event: event.clone(),
            });
        }
        if let Some(name) = identity {
            self.screen.show(Shown::Identity {
                name,
                me,
                server: self.server,
            });
        }
        if matches!(event, Some(Event::Help(_))) && self.tcp_mode {
            self.screen.show(Shown::ClientHelp);
        }
        self.update(&event);
        event
    }

    /// Qué no se muestra de `event` y, tras `Welcome`, el nombre de la
    /// sesión. La pantalla se llama después, sin el candado tomado, para no
    /// frenar a los otros hilos.
    fn before_showing(&self, event: &Option<Event>) -> (bool, Option<String>) {
        let mut state = self.lock();
        // El token es un secreto: quien lo ve (un proyector en el aula)
        // puede usar la sesión y transferir el dinero. El cliente lo guarda
        // para `:udp` y `--udp`, y no lo muestra. El `pong` de
        // un `:ping` del propio cliente tampoco: no lo pidió el usuario.
        let hidden = match event {
            Some(Event::Token(_) | Event::UdpToken(_)) => true,
            Some(Event::Pong) => {
                let own = state.auto_pings > 0;
                state.auto_pings = state.auto_pings.saturating_sub(1);
                own
            }
            // La respuesta a la sonda del saldo: "no es un saldo" y la
            // pregunta otra vez. Lo que el usuario ve es el saldo aceptado,
            // cuando el cliente lo repita.
            Some(Event::Error(Problem::BadBalance)) if state.probing_balance => true,
            Some(Event::AskBalance) if state.probing_balance => true,
            _ if self.is_stale(&state, event) => true,
            // El apagado se avisa por TCP y también a la dirección UDP de
            // la sesión, y cada copia llega por su hilo: se muestra una vez.
            // Se anota aquí, con el mismo candado que la decisión: si se
            // anotara después, al actualizar el estado, las dos copias
            // podrían pasar por aquí antes y mostrarse las dos.
            Some(event) => match ending_after(event) {
                Some(ending) => state.ending.replace(ending) == Some(ending),
                None => false,
            },
            None => false,
        };
        let identity = match event {
            Some(Event::Welcome) if !hidden => Some(state.name.clone().unwrap_or_default()),
            _ => None,
        };
        (hidden, identity)
    }

    /// El estado tras `event`, ya mostrado; despierta a quien lo espera.
    fn update(&self, event: &Option<Event>) {
        let mut state = self.lock();
        let stale = self.is_stale(&state, event);
        state.after_error = matches!(event, Some(Event::Error(_)));
        if stale {
            return;
        }
        // Una respuesta termina en su última línea: `Welcome` y el token
        // siempre van seguidos de otra, y un error mientras se espera el
        // saldo (o el de la sonda del saldo), de la pregunta repetida.
        let last_of_reply = match event {
            Some(Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => false,
            // Lo que pasa en la sala no responde a nada del usuario: si
            // contara, una línea que espera su respuesta (el saldo cuya
            // respuesta se perdió, ya dentro) la daría por respondida.
            Some(
                Event::Public { .. }
                | Event::Private { .. }
                | Event::Connected(_)
                | Event::Disconnected(_)
                | Event::TransferReceived { .. },
            ) => false,
            Some(Event::Error(_)) => {
                state.entry != Entry::AwaitingBalance && !state.probing_balance
            }
            _ => true,
        };
        // En modo `--udp`, una entrada cuyo token se perdió (llegó lo que
        // lo sigue, y el token no) no terminó: sin token no se puede
        // enviar nada más. Se espera como si no hubiera llegado, y la
        // entrada se repite (el servidor responde lo mismo, con el token).
        let tokenless = !self.tcp_mode
            && state.token.is_none()
            && matches!(event, Some(Event::AskBalance | Event::Funds(_)));
        if tokenless {
            return;
        }
        if last_of_reply {
            state.replies += 1;
        }
        match event {
            Some(Event::Token(token) | Event::UdpToken(token)) => {
                state.token = Some(token.clone());
            }
            Some(Event::Pong) => {
                state.pongs += 1;
                state.warned_silence = false;
            }
            Some(Event::AskBalance) => state.entry = Entry::AwaitingBalance,
            Some(Event::BalanceSet(_) | Event::Funds(_)) => state.entry = Entry::Joined,
            Some(Event::Goodbye) => state.said_goodbye = true,
            Some(event) => {
                if let Some(ending) = ending_after(event) {
                    state.ending = Some(ending);
                }
            }
            None => {}
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Cómo terminó la sesión, una vez cerrada.
    pub(crate) fn ending(&self) -> Ending {
        let state = self.lock();
        // En modo `--udp`, quien sale sin haber entrado no tenía sesión que
        // cerrar (ni despedida que esperar): salió, y no se perdió nada.
        let never_signed_in = !self.tcp_mode && state.input_done && state.token.is_none();
        match state.ending {
            _ if state.said_goodbye => Ending::Left,
            Some(ending) => ending,
            None if never_signed_in => Ending::Left,
            None => Ending::Lost,
        }
    }

    /// Envía `bytes` (un datagrama) por `udp`, a través del enlace.
    /// Error: el de `send`.
    pub(crate) fn transmit(&self, udp: &UdpSocket, bytes: &[u8]) -> io::Result<()> {
        self.link.send(udp, bytes)
    }

    /// Un datagrama recibido, a través del enlace: los que siguen su
    /// camino (con el socket del curso, exactamente uno).
    pub(crate) fn arrived(&self, datagram: &[u8]) -> Vec<Vec<u8>> {
        self.link.arrived(datagram)
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Espera a que el contador de respuestas pase de `before` (o a que se
    /// cierre la conexión), como mucho [`REPLY_WAIT`].
    pub(crate) fn wait_for_reply(&self, before: u64) {
        let state = self.lock();
        let _ = wait_timeout_while(&self.changed, state, REPLY_WAIT, |s| {
            s.replies == before && !s.closed
        });
    }

    /// Modo TCP: antes de `:q`, si alguna línea salió por UDP, un `:ping`
    /// por UDP y la espera de su `pong` (como mucho [`DRAIN_WAIT`]), para
    /// que esas líneas lleguen antes que la salida.
    fn drain_udp(&self) {
        let (udp, token) = {
            let mut state = self.lock();
            let (Some(udp), Some(token)) = (state.udp.clone(), state.token.clone()) else {
                return;
            };
            if !std::mem::take(&mut state.sent_by_udp) {
                return;
            }
            state.auto_pings += 1;
            (udp, token)
        };
        if self.send_datagram(&udp, Some(&token), ":ping").is_err() {
            return;
        }
        // Se espera el `pong` de este `:ping` y de todos los anteriores (el
        // que presenta la dirección UDP puede llegar después, tras la
        // cookie): contar solo uno nuevo terminaría antes de tiempo.
        let state = self.lock();
        let (state, timed_out) = wait_timeout_while(&self.changed, state, DRAIN_WAIT, |s| {
            s.pongs < s.pings && !s.closed
        });
        drop(state);
        if timed_out {
            self.screen.show(Shown::UdpSilent);
        }
    }
}

/// El final que anuncia un aviso del servidor, si anuncia uno: el del
/// curso (otra sesión con la misma cuenta) o uno del programa completo (el
/// apagado, el plazo para entrar, los topes).
fn ending_after(event: &Event) -> Option<Ending> {
    course::ending_after(event).or_else(|| Notice::of(event)?.ending())
}

/// Por dónde sale una línea del usuario.
pub(crate) enum Wire {
    Tcp(TcpStream),
    Udp,
}

/// El esqueleto de los modos TCP y UDP (enunciado 000: un hilo envía, otro
/// recibe): el emisor en un hilo propio, el receptor (`receive`) en este,
/// y al terminar, el cierre y las cuentas del laboratorio. Al emisor no se
/// lo espera: puede estar bloqueado leyendo el teclado. Error: no se pudo
/// crear el hilo.
pub(crate) fn converse(
    shared: &Arc<Shared>,
    input: impl Iterator<Item = String> + Send + 'static,
    wire: Wire,
    receive: impl FnOnce(),
) -> io::Result<()> {
    let sender = Arc::clone(shared);
    thread::Builder::new()
        .name("sender".into())
        .spawn(move || send_lines(input, wire, &sender))?;
    receive();
    shared.close();
    shared.link.finish(shared.screen.as_ref());
    if let Some(reliable) = &shared.reliable {
        reliable.finish(shared.screen.as_ref());
    }
    Ok(())
}

/// El hilo emisor: cada línea de `input` va al servidor; al terminar la
/// entrada, envía `:q`.
fn send_lines(input: impl Iterator<Item = String>, mut wire: Wire, shared: &Shared) {
    if matches!(wire, Wire::Tcp(_)) {
        // Primero el saludo del servidor: si no, se lo contaría como la
        // respuesta a la primera línea. (UDP no saluda: no hay conexión.)
        shared.wait_for_reply(0);
    }
    for line in input {
        match send_line(&line, &mut wire, shared) {
            Next::Line => {}
            Next::Done => return stop_reading(shared),
            Next::Broken => break,
        }
    }
    end_of_input(wire, shared);
}

/// Ya se envió `:q` (o la sesión terminó): no se lee más, y el receptor
/// espera la despedida con su plazo, como al terminar la entrada. Sin
/// esto, un `:q` escrito cuya respuesta se pierde esperaría para siempre.
fn stop_reading(shared: &Shared) {
    shared.lock().input_done = true;
    shared.changed.notify_all();
}

/// Qué hacer tras enviar una línea.
enum Next {
    Line,
    /// Ya se envió `:q`, o el servidor se despidió.
    Done,
    /// No se pudo enviar: la conexión se cortó.
    Broken,
}

/// Envía una línea del usuario por donde corresponda y, antes de entrar a
/// la sala, espera su respuesta.
fn send_line(line: &str, wire: &mut Wire, shared: &Shared) -> Next {
    if let Wire::Tcp(_) = wire
        && let Some(by_udp) = transport_switch(line)
    {
        switch_transport(shared, by_udp);
        return Next::Line;
    }
    let parsed = protocolo::parse_command(line);
    let quitting = parsed == Ok(Some(Command::Quit));
    let (entry, before, token, udp) = {
        let mut state = shared.lock();
        if state.closed || state.said_goodbye {
            return Next::Done;
        }
        if let Ok(Some(Command::Login { name, .. } | Command::Register { name, .. })) = &parsed {
            state.name = Some(name.clone());
        }
        // `:q` cierra la sesión TCP por TCP aunque las líneas viajen por UDP.
        let by_udp = matches!(wire, Wire::Udp) || (state.lines_by_udp && !quitting);
        let udp = state.udp.clone().filter(|_| by_udp);
        state.sent_by_udp |= udp.is_some() && matches!(wire, Wire::Tcp(_));
        (state.entry, state.replies, state.token.clone(), udp)
    };
    if quitting && matches!(wire, Wire::Tcp(_)) {
        shared.drain_udp();
    }
    if entry == Entry::Joined {
        echo_own_line(shared.screen.as_ref(), &parsed, invisible::render_text);
    }
    let sent = match (&mut *wire, &udp) {
        (_, Some(udp)) => shared.send_datagram(udp, token.as_deref(), line),
        (Wire::Tcp(stream), None) => {
            if parsed == Ok(Some(Command::Ping)) {
                shared.lock().pings += 1;
            }
            stream.write_all(format!("{line}\n").as_bytes())
        }
        (Wire::Udp, None) => Ok(()),
    };
    match sent {
        Err(_) => Next::Broken,
        Ok(()) if quitting => Next::Done,
        // Antes de entrar a la sala, cada línea no vacía tiene respuesta: se
        // espera para que la siguiente se interprete en la etapa correcta.
        Ok(()) if entry != Entry::Joined && !line.trim().is_empty() => {
            await_reply(shared, wire, line, udp.as_deref(), before)
        }
        Ok(()) => Next::Line,
    }
}

/// Espera la respuesta a una línea enviada antes de entrar a la sala (la
/// que había `before` respuestas). Por UDP, si nunca llega, la sesión
/// termina: [`Next::Done`].
fn await_reply(
    shared: &Shared,
    wire: &Wire,
    line: &str,
    udp: Option<&UdpSocket>,
    before: u64,
) -> Next {
    match (wire, udp) {
        (Wire::Udp, Some(udp)) if !shared.wait_for_udp_reply(line, before, udp) => Next::Done,
        (Wire::Udp, _) => Next::Line,
        (Wire::Tcp(_), _) => {
            shared.wait_for_reply(before);
            Next::Line
        }
    }
}

/// Fin de la entrada: igual que `:q`.
fn end_of_input(wire: Wire, shared: &Shared) {
    let (token, udp) = {
        let mut state = shared.lock();
        state.input_done = true;
        (state.token.clone(), state.udp.clone())
    };
    shared.changed.notify_all();
    match (wire, udp, token) {
        (Wire::Tcp(mut stream), _, _) => {
            shared.drain_udp();
            // Cerrar el sentido de escritura avisa al servidor aun si ya no lee.
            let _ = stream.write_all(b":q\n");
            let _ = stream.shutdown(Shutdown::Write);
        }
        (Wire::Udp, Some(udp), Some(token)) => {
            let _ = shared.send_datagram(&udp, Some(&token), ":q");
        }
        (Wire::Udp, _, _) => {}
    }
}

fn switch_transport(shared: &Shared, by_udp: bool) {
    let mut state = shared.lock();
    let shown = if by_udp && state.udp.is_none() {
        Shown::UdpNotReady
    } else {
        state.lines_by_udp = by_udp;
        Shown::Travel(by_udp)
    };
    // El `:ping` que presentó la dirección UDP sigue sin respuesta.
    let silent = by_udp && state.udp.is_some() && state.pongs < state.pings;
    drop(state);
    shared.screen.show(shown);
    if silent {
        shared.screen.show(Shown::UdpSilent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Un `Screen` que no muestra nada.
    struct Blind;

    impl Screen for Blind {
        fn show(&self, _: Shown) {}
    }

    /// El aviso de apagado llega por TCP y por UDP, cada copia en su hilo:
    /// aunque las dos decidan si se muestran antes de que ninguna cambie el
    /// estado, se muestra una sola.
    #[test]
    fn a_notice_that_arrives_twice_at_once_is_shown_once() {
        let shared = Shared::new(
            Arc::new(Blind),
            "127.0.0.1:1".parse().expect("addr"),
            None,
            Plugins::default(),
        );
        let notice = Some(Notice::ShuttingDown.event());
        let (first, _) = shared.before_showing(&notice);
        let (second, _) = shared.before_showing(&notice);
        shared.update(&notice);
        shared.update(&notice);
        assert_eq!([first, second], [false, true], "ocultas");
        assert_eq!(shared.ending(), Ending::ShuttingDown);
    }

    /// En modo TCP, la primera línea que sale por UDP a una dirección sin
    /// probar, si es un mensaje (que no recibe respuesta), va detrás de un
    /// `:ping`: la sonda siempre recibe respuesta, del servidor del curso o
    /// del completo (la cookie). Antes, el mensaje era la sonda, y con el
    /// servidor del curso lo que esperaba detrás no salía nunca.
    #[test]
    fn a_message_never_goes_first_to_an_unproven_address() {
        let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = server.local_addr().expect("addr");
        let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
        client.connect(addr).expect("connect");
        let shared = Shared::new(Arc::new(Blind), addr, None, Plugins::default());
        shared
            .send_datagram(&client, Some("T0KEN"), "uno")
            .expect("send");
        shared
            .send_datagram(&client, Some("T0KEN"), "dos")
            .expect("send");
        client.send(b"marca").expect("send");
        server
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut buffer = [0u8; 512];
        let mut next = || {
            let n = server.recv(&mut buffer).expect("recv");
            String::from_utf8_lossy(&buffer[..n]).trim_end().to_string()
        };
        assert_eq!(next(), "T0KEN :ping", "la sonda");
        assert_eq!(
            next(),
            "marca",
            "uno y dos esperan a que la sonda tenga respuesta"
        );
        let state = shared.lock();
        assert_eq!(
            (state.pings, state.auto_pings),
            (1, 1),
            "su pong no se muestra"
        );
        let waiting: Vec<&str> = state.unproven.iter().map(|d| d.trim_end()).collect();
        assert_eq!(waiting, ["T0KEN :ping", "T0KEN uno", "T0KEN dos"]);
    }

    #[test]
    fn transport_switches_are_local_commands() {
        assert_eq!(transport_switch(":udp"), Some(true));
        assert_eq!(transport_switch(" :tcp "), Some(false));
        assert_eq!(transport_switch(":udp hola"), None);
        assert_eq!(transport_switch("udp"), None);
    }
}
