//! El núcleo del cliente, común a todos sus modos: el estado de la sesión
//! que comparten el hilo que envía y los que reciben (en qué etapa está,
//! cuántas respuestas llegaron, el token, el socket UDP), cómo se lee cada
//! línea del servidor y cómo se envía cada línea del usuario. No abre
//! conexiones: eso lo hace cada modo.

use super::REPLY_WAIT;
use super::ending::Ending;
use super::reliable::Reliable;
use super::screen::{Screen, Shown};
use crate::lossy::{Counters, Impairment, Lossy};
use crate::protocolo::{self, Command, Event};
use crate::sync::wait_timeout_while;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Hasta cuántos bytes se rellena un datagrama mientras la dirección UDP no
/// está probada: con 64, el triple (lo más que el servidor responde a una
/// dirección sin probar) deja lugar de sobra para la cookie.
pub(super) const UNPROVEN_DATAGRAM_BYTES: usize = 64;

/// Cuántas veces se envía, como mucho, una línea por UDP antes de entrar a
/// la sala si el servidor no responde nada, y cuánto se espera cada vez:
/// un datagrama perdido no se reenvía solo, y sin respuesta el usuario
/// quedaría esperando para siempre (issue #16).
const UDP_TRIES: u32 = 3;
const UDP_RETRY: Duration = Duration::from_millis(1500);

/// En modo confiable, más intentos: la pérdida que justifica el modo
/// también se lleva la sonda y la cookie (con 30 %, cada ida y vuelta
/// falla la mitad de las veces), y no cuesta nada esperar un poco más.
const RELIABLE_UDP_TRIES: u32 = 6;

/// Cuánto espera el modo TCP, antes de enviar `:q`, la respuesta a un
/// `:ping` por UDP: el servidor atiende los datagramas en orden, así que
/// cuando llega su `pong` ya procesó las líneas que se enviaron por UDP
/// antes. Sin esto, el `:q` por TCP les gana y se pierden (issue #16).
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Tras cuántos `:ping` de mantenimiento sin respuesta se avisa que el
/// servidor no contesta.
const UNANSWERED_KEEPALIVES: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Outside,
    AwaitingBalance,
    Joined,
}

pub(super) struct State {
    pub(super) stage: Stage,
    /// Respuestas completas recibidas del servidor (para esperar la de la
    /// última línea enviada antes de enviar la siguiente).
    pub(super) replies: u64,
    /// El nombre de la última línea `:login`/`:register` enviada.
    pub(super) name: Option<String>,
    /// El token de la sesión, cuando llega.
    pub(super) token: Option<String>,
    /// El socket UDP (siempre en modo `--udp`; en modo TCP, tras el token).
    pub(super) udp: Option<Arc<UdpSocket>>,
    /// El servidor ya respondió algo que no es una cookie a este socket UDP:
    /// su dirección está probada (ver `cookie` en el servidor).
    pub(super) udp_proven: bool,
    /// Mientras la dirección no está probada: la sonda enviada y los
    /// datagramas que esperan la cookie, en orden.
    pub(super) unproven: Vec<String>,
    /// La cookie que dio el servidor, para los datagramas que salgan antes
    /// de la primera respuesta de verdad.
    pub(super) cookie: Option<String>,
    /// En modo TCP: las líneas salen por UDP (`:udp`) en vez de TCP.
    pub(super) lines_by_udp: bool,
    /// Se terminó la entrada del usuario.
    pub(super) input_done: bool,
    /// El servidor se despidió.
    pub(super) said_goodbye: bool,
    /// La conexión terminó.
    pub(super) closed: bool,
    /// Por qué va a terminar, según el último aviso del servidor.
    pub(super) ending: Option<Ending>,
    /// `:ping` que envió el propio cliente (mantenimiento, vaciado) cuyo
    /// `pong` no se muestra.
    pub(super) auto_pings: u32,
    /// `:ping` enviados (por cualquier transporte) y `pong` recibidos: el
    /// servidor responde cada uno en orden, así que con `pongs == pings`
    /// ya atendió todo lo enviado antes del último `:ping`.
    pub(super) pings: u64,
    pub(super) pongs: u64,
    /// En modo TCP: alguna línea salió por UDP desde el último vaciado.
    pub(super) sent_by_udp: bool,
    /// Llegó algún datagrama del servidor a este socket UDP.
    pub(super) heard_udp: bool,
    /// El sistema dijo que nadie escucha en el puerto UDP del servidor
    /// (un ICMP "puerto inalcanzable").
    pub(super) udp_refused: bool,
    /// Cuándo salió el último datagrama: el mantenimiento solo hace falta
    /// tras un rato de silencio.
    pub(super) last_udp_send: Instant,
    /// Ya se avisó que el servidor no responde al mantenimiento.
    pub(super) warned_silence: bool,
}

/// Cómo se porta el lado UDP del cliente: el mantenimiento y el
/// laboratorio de pérdidas (`--loss`, `--dup`, `--reorder`, `--seed`).
#[derive(Debug, Clone, Copy)]
pub(super) struct UdpTuning {
    /// Cada cuánto, sin otros datagramas, el modo `--udp` envía `:ping`.
    pub(super) keepalive: Duration,
    /// Lo que se altera de lo que el cliente envía y recibe por UDP.
    pub(super) impairment: Impairment,
    /// La semilla del generador del laboratorio.
    pub(super) seed: u64,
    /// El modo confiable (`--reliable`), con sus reintentos (`--retries`).
    pub(super) reliable: Option<u32>,
}

/// El laboratorio de UDP del lado del cliente: un sentido para lo que
/// sale, otro para lo que entra.
struct Lab {
    outgoing: Mutex<Lossy<Vec<u8>>>,
    incoming: Mutex<Lossy<Vec<u8>>>,
    counters: Counters,
}

/// Lo que comparten el hilo que envía y los que reciben.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    pub(super) screen: Arc<dyn Screen>,
    pub(super) server: SocketAddr,
    /// El modo TCP (con `:udp`/`:tcp`); si no, el modo `--udp`.
    pub(super) tcp_mode: bool,
    /// Cada cuánto, sin otros datagramas, el modo `--udp` envía `:ping`
    /// para que el servidor no cierre la sesión por inactividad.
    pub(super) keepalive: Duration,
    /// El laboratorio de pérdidas, si se pidió.
    lab: Option<Lab>,
    /// El modo confiable, si se pidió (`--udp --reliable`). Su candado se
    /// toma siempre *después* del de `state`, nunca al revés.
    pub(super) reliable: Option<Mutex<Reliable>>,
}

impl Shared {
    /// El estado de una sesión nueva. `udp`: el socket del modo `--udp`
    /// (`None` es el modo TCP, que lo abre al recibir el token).
    pub(super) fn new(
        screen: Arc<dyn Screen>,
        server: SocketAddr,
        udp: Option<Arc<UdpSocket>>,
        tuning: UdpTuning,
    ) -> Arc<Shared> {
        let tcp_mode = udp.is_none();
        let lab = (!tuning.impairment.is_off()).then(|| Lab {
            outgoing: Mutex::new(Lossy::new(tuning.impairment, tuning.seed)),
            incoming: Mutex::new(Lossy::new(tuning.impairment, tuning.seed.wrapping_add(1))),
            counters: Counters::default(),
        });
        Arc::new(Shared {
            state: Mutex::new(State {
                stage: Stage::Outside,
                replies: 0,
                name: None,
                token: None,
                udp,
                udp_proven: false,
                unproven: Vec::new(),
                cookie: None,
                lines_by_udp: false,
                input_done: false,
                said_goodbye: false,
                closed: false,
                ending: None,
                auto_pings: 0,
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
            keepalive: tuning.keepalive,
            lab,
            reliable: tuning
                .reliable
                .map(|retries| Mutex::new(Reliable::new(retries))),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // El estado queda coherente en cada paso: un hilo que entró en
        // pánico no deja al resto del cliente sin él.
        crate::sync::lock(&self.state)
    }

    /// Muestra una línea del servidor y actualiza el estado. Devuelve el
    /// evento reconocido, si lo hay.
    ///
    /// Primero se muestra y después se cambia el estado: el cambio es lo que
    /// despierta al hilo que envía (la respuesta llegó), y lo que ese hilo
    /// muestre después (`Me: hola`) debe quedar debajo de la respuesta.
    pub(super) fn receive(&self, line: &str, me: SocketAddr) -> Option<Event> {
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
        if event == Some(Event::Help) && self.tcp_mode {
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
        // para `:udp` y `--udp`, y no lo muestra (issue #13). El `pong` de
        // un `:ping` del propio cliente tampoco: no lo pidió el usuario.
        let hidden = match event {
            Some(Event::Token(_) | Event::UdpToken(_)) => true,
            Some(Event::Pong) => {
                let own = state.auto_pings > 0;
                state.auto_pings = state.auto_pings.saturating_sub(1);
                own
            }
            // El apagado se avisa por TCP y también a la dirección UDP de
            // la sesión: se muestra una vez.
            Some(event) => ending_after(event).is_some() && state.ending == ending_after(event),
            None => false,
        };
        let identity = match event {
            Some(Event::Welcome) => Some(state.name.clone().unwrap_or_default()),
            _ => None,
        };
        (hidden, identity)
    }

    /// El estado tras `event`, ya mostrado; despierta a quien lo espera.
    fn update(&self, event: &Option<Event>) {
        let mut state = self.lock();
        // Una respuesta termina en su última línea: `Welcome` y el token
        // siempre van seguidos de otra, y un error mientras se espera el
        // saldo, de la pregunta repetida.
        let last_of_reply = match event {
            Some(Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => false,
            Some(Event::Error(_)) => state.stage != Stage::AwaitingBalance,
            _ => true,
        };
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
            Some(Event::AskBalance) => state.stage = Stage::AwaitingBalance,
            Some(Event::BalanceSet(_) | Event::Funds(_)) => state.stage = Stage::Joined,
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
    pub(super) fn ending(&self) -> Ending {
        let state = self.lock();
        if state.said_goodbye {
            Ending::Left
        } else {
            state.ending.unwrap_or(Ending::Lost)
        }
    }

    /// Envía `line` por UDP (con el token delante, si hay).
    ///
    /// Mientras la dirección no está probada (ver `cookie` en el servidor),
    /// sale un solo datagrama, la sonda, rellenado con espacios hasta
    /// [`UNPROVEN_DATAGRAM_BYTES`] (el servidor responde a una dirección sin
    /// probar a lo sumo el triple de lo que recibió, y la cookie no cabría
    /// en el triple de `:login a b`); los siguientes esperan en
    /// `unproven`. Cuando llega la cookie, salen todos con ella delante, en
    /// orden ([`Shared::resend_with_cookie`]), y los que vengan después la
    /// llevan también, hasta la primera respuesta de verdad. Si se enviaran
    /// todos sin esperar, el servidor atendería algunos directamente (los
    /// que llegan tras la prueba) y otros con la cookie, repetidos y en
    /// otro orden.
    ///
    /// Se envía con el candado tomado: así nada se cuela entre los
    /// reenviados con la cookie y los nuevos. Un envío UDP no espera a
    /// nadie.
    pub(super) fn send_datagram(
        &self,
        udp: &UdpSocket,
        token: Option<&str>,
        line: &str,
    ) -> io::Result<()> {
        let mut state = self.lock();
        state.last_udp_send = Instant::now();
        state.pings += u64::from(line.trim() == ":ping");
        if self.reliable.is_some() {
            // El modo confiable enmarca él mismo (cookie, token, número).
            return self.send_reliable(udp, &state, line);
        }
        let mut datagram = match token {
            Some(token) => format!("{token} {line}"),
            None => line.to_string(),
        };
        if !state.udp_proven {
            if let Some(cookie) = &state.cookie {
                datagram = format!("{cookie} {datagram}");
            } else {
                let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
                datagram.push_str(&" ".repeat(pad));
                state.unproven.push(datagram.clone());
                if state.unproven.len() > 1 {
                    // Ya hay una sonda en camino: este espera la cookie.
                    return Ok(());
                }
            }
        }
        datagram.push('\n');
        self.transmit(udp, datagram.as_bytes())
    }

    /// `send` por `udp`, pasando por el laboratorio si está encendido.
    /// Error: el de `send` (un datagrama "perdido" no es un error: UDP no
    /// avisa).
    pub(super) fn transmit(&self, udp: &UdpSocket, bytes: &[u8]) -> io::Result<()> {
        let Some(lab) = &self.lab else {
            return udp.send(bytes).map(|_| ());
        };
        let passed = crate::sync::lock(&lab.outgoing).pass(bytes.to_vec(), &lab.counters);
        for datagram in passed {
            udp.send(&datagram)?;
        }
        Ok(())
    }

    /// Un datagrama recibido, pasado por el laboratorio: los que siguen su
    /// camino (ninguno, uno o más).
    pub(super) fn arrived(&self, datagram: &[u8]) -> Vec<Vec<u8>> {
        match &self.lab {
            None => vec![datagram.to_vec()],
            Some(lab) => crate::sync::lock(&lab.incoming).pass(datagram.to_vec(), &lab.counters),
        }
    }

    /// Al terminar, con el laboratorio encendido: cuánto alteró.
    pub(super) fn show_lab_counts(&self) {
        if let Some(lab) = &self.lab {
            let (dropped, duplicated, reordered) = lab.counters.snapshot();
            self.screen.show(Shown::LabCounts {
                dropped,
                duplicated,
                reordered,
            });
        }
    }

    /// El servidor pidió probar la dirección: salen, con la cookie delante
    /// y en orden, los datagramas que esperaban, y la cookie queda para los
    /// siguientes. La cookie vale para todos (es de la dirección), y cada
    /// uno sale una sola vez: las cookies que lleguen después ya no
    /// encuentran nada que repetir.
    ///
    /// En modo confiable la cookie es la prueba de cada datagrama hasta que
    /// llegue el token, así que una nueva (la anterior venció) se guarda
    /// aunque la dirección ya esté probada, y lo que está en vuelo sale otra
    /// vez con ella.
    pub(super) fn resend_with_cookie(&self, udp: &UdpSocket, cookie: &str) {
        let mut state = self.lock();
        if self.reliable.is_some() {
            if state.token.is_some() && state.udp_proven {
                return;
            }
            state.cookie = Some(cookie.to_string());
            return self.resend_reliable(udp, &state);
        }
        if state.udp_proven {
            return;
        }
        state.cookie = Some(cookie.to_string());
        for datagram in std::mem::take(&mut state.unproven) {
            let _ = self.transmit(udp, format!("{cookie} {datagram}\n").as_bytes());
        }
    }

    /// Llegó una respuesta de verdad por UDP: la dirección está probada. Si
    /// algo esperaba (sin cookie nunca llegó), sale ahora, tal cual.
    pub(super) fn proven(&self, udp: &UdpSocket) {
        let mut state = self.lock();
        if state.udp_proven {
            return;
        }
        state.udp_proven = true;
        if self.reliable.is_none() {
            state.cookie = None;
        }
        for datagram in std::mem::take(&mut state.unproven) {
            let _ = self.transmit(udp, format!("{datagram}\n").as_bytes());
        }
    }

    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Espera a que el contador de respuestas pase de `before` (o a que se
    /// cierre la conexión), como mucho [`REPLY_WAIT`].
    pub(super) fn wait_for_reply(&self, before: u64) {
        let state = self.lock();
        let _ = wait_timeout_while(&self.changed, state, REPLY_WAIT, |s| {
            s.replies == before && !s.closed
        });
    }

    /// Como [`Shared::wait_for_reply`], para una línea enviada por UDP
    /// antes de entrar a la sala: si el servidor no dice nada, la repite
    /// ([`UDP_TRIES`] veces en total). Si nunca respondió nada, o el sistema
    /// avisó que nadie escucha en ese puerto, cierra la sesión como
    /// [`Ending::Unreachable`] y devuelve `false`.
    fn wait_for_udp_reply(&self, before: u64, udp: &UdpSocket) -> bool {
        let tries = if self.reliable.is_some() {
            RELIABLE_UDP_TRIES
        } else {
            UDP_TRIES
        };
        for attempt in 1..=tries {
            let state = self.lock();
            let (mut state, _) = wait_timeout_while(&self.changed, state, UDP_RETRY, |s| {
                s.replies == before && !s.closed && !s.udp_refused
            });
            if state.replies != before || state.closed {
                return true;
            }
            if state.heard_udp {
                // Respondió algo (la cookie): la respuesta viene en camino.
                drop(state);
                self.wait_for_reply(before);
                return true;
            }
            if state.udp_refused || attempt == tries {
                state.ending = Some(Ending::Unreachable);
                state.closed = true;
                drop(state);
                self.changed.notify_all();
                return false;
            }
            self.retry(udp, state);
            self.screen.show(Shown::Retrying {
                attempt: attempt + 1,
                of: tries,
            });
        }
        false
    }

    /// Nada llegó al servidor, o nada volvió: se repite la sonda (la
    /// primera línea sin respuesta). En modo confiable, todo lo que está en
    /// vuelo, ya, sin esperar al plazo duplicado del emisor (que sin ninguna
    /// medición empieza en 1 s y va por 2 y 4).
    fn retry(&self, udp: &UdpSocket, state: MutexGuard<'_, State>) {
        if self.reliable.is_some() {
            self.resend_reliable(udp, &state);
            return;
        }
        let probe = state.unproven.first().cloned();
        drop(state);
        if let Some(probe) = probe {
            let _ = self.transmit(udp, format!("{probe}\n").as_bytes());
        }
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

    /// Modo `--udp`, llamado cada tanto por el receptor: tras
    /// [`Shared::keepalive`] sin enviar nada, un `:ping` para que el
    /// servidor no dé la sesión por abandonada (`--udp-idle-secs`). Si los
    /// últimos quedaron sin respuesta, lo avisa una vez.
    pub(super) fn keep_alive(&self, udp: &UdpSocket) {
        let (token, warn) = {
            let mut state = self.lock();
            let idle = state.last_udp_send.elapsed() >= self.keepalive;
            let Some(token) = state.token.clone().filter(|_| idle) else {
                return;
            };
            if state.stage != Stage::Joined || state.closed || state.input_done {
                return;
            }
            let warn = state.auto_pings >= UNANSWERED_KEEPALIVES && !state.warned_silence;
            state.warned_silence |= warn;
            state.auto_pings += 1;
            (token, warn)
        };
        if warn {
            self.screen.show(Shown::NoAnswer);
        }
        let _ = self.send_datagram(udp, Some(&token), ":ping");
    }
}

/// El final que anuncia un aviso del servidor, si anuncia uno: el servidor
/// lo envía justo antes de cerrar.
fn ending_after(event: &Event) -> Option<Ending> {
    match event {
        Event::ShuttingDown => Some(Ending::ShuttingDown),
        Event::SigninTimeout(_) => Some(Ending::SigninDeadline),
        Event::ServerFull | Event::TooManyFromAddress => Some(Ending::ServerFull),
        Event::TooManyFailures => Some(Ending::TooManyFailures),
        _ => None,
    }
}

/// Por dónde sale una línea del usuario.
pub(super) enum Wire {
    Tcp(TcpStream),
    Udp,
}

/// El esqueleto de los modos TCP y UDP (enunciado 000: un hilo envía, otro
/// recibe): el emisor en un hilo propio, el receptor (`receive`) en este,
/// y al terminar, el cierre y las cuentas del laboratorio. Al emisor no se
/// lo espera: puede estar bloqueado leyendo el teclado. Error: no se pudo
/// crear el hilo.
pub(super) fn converse(
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
    shared.show_lab_counts();
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
            Next::Done => return,
            Next::Broken => break,
        }
    }
    end_of_input(wire, shared);
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
    let (stage, before, token, udp) = {
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
        (state.stage, state.replies, state.token.clone(), udp)
    };
    if quitting && matches!(wire, Wire::Tcp(_)) {
        shared.drain_udp();
    }
    if stage == Stage::Joined {
        echo_own_line(shared.screen.as_ref(), &parsed);
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
        Ok(()) if stage != Stage::Joined && !line.trim().is_empty() => {
            await_reply(shared, wire, udp.as_deref(), before)
        }
        Ok(()) => Next::Line,
    }
}

/// Espera la respuesta a una línea enviada antes de entrar a la sala (la
/// que había `before` respuestas). Por UDP, si nunca llega, la sesión
/// termina: [`Next::Done`].
fn await_reply(shared: &Shared, wire: &Wire, udp: Option<&UdpSocket>, before: u64) -> Next {
    match (wire, udp) {
        (Wire::Udp, Some(udp)) if !shared.wait_for_udp_reply(before, udp) => Next::Done,
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

/// `:udp` o `:tcp` (solo del cliente, no se envían): `Some(true)` = por UDP.
pub(super) fn transport_switch(line: &str) -> Option<bool> {
    match line.trim() {
        ":udp" => Some(true),
        ":tcp" => Some(false),
        _ => None,
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

fn echo_own_line(screen: &dyn Screen, parsed: &Result<Option<Command>, protocolo::Problem>) {
    let (to, text) = match parsed {
        Ok(Some(Command::Public(text))) => (None, text),
        Ok(Some(Command::Private { to, text })) => (Some(to.clone()), text),
        // Un comando no es un mensaje: lo que se muestra es su respuesta.
        _ => return,
    };
    let text = protocolo::render_text(text);
    if !text.is_empty() {
        screen.show(Shown::Own { to, text });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_switches_are_local_commands() {
        assert_eq!(transport_switch(":udp"), Some(true));
        assert_eq!(transport_switch(" :tcp "), Some(false));
        assert_eq!(transport_switch(":udp hola"), None);
        assert_eq!(transport_switch("udp"), None);
    }
}
