//! El núcleo del cliente, común a sus dos modos de chat: el estado de la
//! sesión que comparten el hilo que envía y los que reciben (en qué etapa
//! está, cuántas respuestas llegaron, el token, el socket UDP), cómo se
//! lee cada línea del servidor y cómo se envía cada línea del usuario. No
//! abre conexiones: eso lo hace cada modo (`terminal`, `udp`).

use super::REPLY_WAIT;
use super::ending::Ending;
use super::screen::{Screen, Shown};
use crate::curso::protocolo::{self, Command, Event};
use crate::curso::sync::wait_timeout_while;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// Cuánto espera el modo TCP, antes de enviar `:q`, la respuesta a un
/// `:ping` por UDP: el servidor atiende los datagramas en orden, así que
/// cuando llega su `pong` ya procesó las líneas que se enviaron por UDP
/// antes. Sin esto, el `:q` por TCP les gana y se pierden.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Hasta dónde entró el cliente, según lo que el servidor le respondió. Es
/// lo que el cliente ve de la etapa del servidor (`Stage`, en
/// `session.rs`), no la etapa misma: por eso otro nombre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Entry {
    /// Todavía sin entrar (o con la entrada rechazada).
    #[default]
    Outside,
    /// El servidor preguntó el saldo de la cuenta nueva.
    AwaitingBalance,
    /// En la sala.
    Joined,
}

/// El estado de la sesión. Lo cambian el hilo que recibe (lo que dice el
/// servidor) y el que envía (lo que escribe el usuario); por eso va tras
/// un candado, y el [`Condvar`] de [`Shared`] avisa cada cambio. Empieza
/// vacío (`Default`): fuera de la sala, sin token, sin nada enviado.
#[derive(Default)]
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
    /// En modo TCP: las líneas salen por UDP (`:udp`) en vez de TCP.
    pub(crate) lines_by_udp: bool,
    /// Se terminó la entrada del usuario (o se envió `:q`).
    pub(crate) input_done: bool,
    /// El servidor se despidió.
    pub(crate) said_goodbye: bool,
    /// La conexión terminó.
    pub(crate) closed: bool,
    /// Por qué va a terminar, según el último aviso del servidor.
    pub(crate) ending: Option<Ending>,
    /// `:ping` que envió el propio cliente cuyo `pong` no se muestra: no
    /// los pidió el usuario.
    pub(crate) own_pings: u32,
    /// `:ping` enviados y `pong` recibidos: el servidor responde cada uno
    /// en orden, así que con `pongs == pings` ya atendió todo lo enviado
    /// antes del último `:ping`.
    pub(crate) pings: u64,
    pub(crate) pongs: u64,
    /// En modo TCP: alguna línea salió por UDP desde el último `:q`.
    pub(crate) sent_by_udp: bool,
    /// El sistema dijo que nadie escucha en el puerto UDP del servidor
    /// (un ICMP "puerto inalcanzable").
    pub(crate) udp_refused: bool,
}

/// Lo que comparten el hilo que envía y los que reciben.
pub(crate) struct Shared {
    /// El estado. Cada hilo lo toma para leerlo o cambiarlo y lo suelta
    /// enseguida, nunca mientras espera la red o la pantalla: si el hilo
    /// que envía lo tuviera tomado mientras espera una respuesta, el que
    /// recibe no podría anotarla, y los dos esperarían para siempre.
    pub(crate) state: Mutex<State>,
    /// Avisa cada cambio del estado a quien espera uno (una respuesta, un
    /// `pong`, el cierre).
    pub(crate) changed: Condvar,
    pub(crate) screen: Arc<dyn Screen>,
    pub(crate) server: SocketAddr,
    /// El modo TCP (con `:udp`/`:tcp`); si no, el modo `--udp`.
    pub(crate) tcp_mode: bool,
}

impl Shared {
    /// El estado de una sesión nueva. `udp`: el socket del modo `--udp`
    /// (`None` es el modo TCP, que lo abre al recibir el token).
    pub(crate) fn new(
        screen: Arc<dyn Screen>,
        server: SocketAddr,
        udp: Option<Arc<UdpSocket>>,
    ) -> Arc<Shared> {
        let tcp_mode = udp.is_none();
        Arc::new(Shared {
            state: Mutex::new(State {
                udp,
                ..State::default()
            }),
            changed: Condvar::new(),
            screen,
            server,
            tcp_mode,
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
        // para `:udp` y `--udp`, y no lo muestra. El `pong` de un `:ping`
        // del propio cliente tampoco: no lo pidió el usuario.
        let hidden = match event {
            Some(Event::Token(_) | Event::UdpToken(_)) => true,
            Some(Event::Pong) => {
                let own = state.own_pings > 0;
                state.own_pings = state.own_pings.saturating_sub(1);
                own
            }
            _ => false,
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
        if ends_a_reply(event, state.entry) {
            state.replies += 1;
        }
        match event {
            Some(Event::Token(token) | Event::UdpToken(token)) => {
                state.token = Some(token.clone());
            }
            Some(Event::Pong) => state.pongs += 1,
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

    /// Envía `line` por UDP, con el token delante si hay: en UDP no hay
    /// conexión, y el token es lo que dice de qué sesión es cada datagrama
    /// (enunciado 000). Error: el de `send`.
    pub(crate) fn send_datagram(
        &self,
        udp: &UdpSocket,
        token: Option<&str>,
        line: &str,
    ) -> io::Result<()> {
        self.lock().pings += u64::from(line.trim() == ":ping");
        let datagram = match token {
            Some(token) => format!("{token} {line}\n"),
            None => format!("{line}\n"),
        };
        udp.send(datagram.as_bytes()).map(|_| ())
    }

    /// Un `:ping` del propio cliente por UDP (presentar la dirección,
    /// vaciar antes de `:q`): su `pong` no se
    /// muestra. No hace nada sin socket o sin token.
    pub(crate) fn own_ping(&self) {
        let (udp, token) = {
            let mut state = self.lock();
            let (Some(udp), Some(token)) = (state.udp.clone(), state.token.clone()) else {
                return;
            };
            state.own_pings += 1;
            (udp, token)
        };
        let _ = self.send_datagram(&udp, Some(&token), ":ping");
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Espera a que el contador de respuestas pase de `before` (o a que se
    /// cierre la conexión, o, en modo `--udp`, a que el sistema avise que
    /// nadie escucha), como mucho [`REPLY_WAIT`]. Devuelve `true` si llegó.
    pub(crate) fn wait_for_reply(&self, before: u64) -> bool {
        let state = self.lock();
        let refused = |s: &State| s.udp_refused && !self.tcp_mode;
        let (state, _) = wait_timeout_while(&self.changed, state, REPLY_WAIT, |s| {
            s.replies == before && !s.closed && !refused(s)
        });
        state.replies != before
    }

    /// Modo TCP: antes de `:q`, si alguna línea salió por UDP, un `:ping`
    /// por UDP y la espera de su `pong` (como mucho [`DRAIN_WAIT`]), para
    /// que esas líneas lleguen antes que la salida.
    fn drain_udp(&self) {
        if !std::mem::take(&mut self.lock().sent_by_udp) {
            return;
        }
        self.own_ping();
        // Se espera el `pong` de este `:ping` y de todos los anteriores (el
        // que presenta la dirección UDP puede estar en camino todavía).
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

/// `true` si `event` es la última línea de una respuesta del servidor.
/// Una respuesta termina en su última línea: `Welcome` y el token siempre
/// van seguidos de otra, y un error mientras se espera el saldo, de la
/// pregunta repetida. Lo que pasa en la sala no responde a nada del
/// usuario.
pub fn ends_a_reply(event: &Option<Event>, entry: Entry) -> bool {
    match event {
        Some(Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => false,
        Some(
            Event::Public { .. }
            | Event::Private { .. }
            | Event::Connected(_)
            | Event::Disconnected(_)
            | Event::TransferReceived { .. },
        ) => false,
        Some(Event::Error(_)) => entry != Entry::AwaitingBalance,
        _ => true,
    }
}

/// El final que anuncia un aviso del servidor, si anuncia uno: el servidor
/// lo envía justo antes de cerrar. El del curso anuncia uno solo: la
/// sesión solo-UDP que su dueño abrió desde otra dirección.
pub fn ending_after(event: &Event) -> Option<Ending> {
    (event == &Event::Replaced).then_some(Ending::Replaced)
}

/// Por dónde sale una línea del usuario.
pub(crate) enum Wire {
    Tcp(TcpStream),
    Udp,
}

/// El esqueleto de los modos TCP y UDP (enunciado 000: un hilo envía, otro
/// recibe): el emisor en un hilo propio, el receptor (`receive`) en este.
/// Al emisor no se lo espera: puede estar bloqueado leyendo el teclado.
/// Error: no se pudo crear el hilo.
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
/// espera la despedida.
fn stop_reading(shared: &Shared) {
    shared.lock().input_done = true;
    shared.changed.notify_all();
}

/// Qué hacer tras enviar una línea.
enum Next {
    Line,
    /// Ya se envió `:q`, o la sesión terminó.
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
        echo_own_line(shared.screen.as_ref(), &parsed, protocolo::render_text);
    }
    let sent = match (&mut *wire, &udp) {
        (_, Some(udp)) => shared.send_datagram(udp, token.as_deref(), line),
        (Wire::Tcp(stream), None) => {
            shared.lock().pings += u64::from(parsed == Ok(Some(Command::Ping)));
            stream.write_all(format!("{line}\n").as_bytes())
        }
        (Wire::Udp, None) => Ok(()),
    };
    match sent {
        Err(_) => return Next::Broken,
        Ok(()) if quitting => return Next::Done,
        Ok(()) => {}
    }
    if entry != Entry::Joined && !line.trim().is_empty() {
        return await_reply(shared, wire, before);
    }
    Next::Line
}

/// Antes de entrar a la sala, cada línea no vacía tiene respuesta: se
/// espera (`before`: las respuestas contadas al enviarla) para que la
/// siguiente se interprete en la etapa correcta (un guion en una tubería
/// escribe todo de una vez). Por UDP, si no llega nunca, el servidor no
/// está, o la línea se perdió (UDP no avisa): la sesión termina con
/// [`Ending::Unreachable`].
fn await_reply(shared: &Shared, wire: &Wire, before: u64) -> Next {
    if shared.wait_for_reply(before) || matches!(wire, Wire::Tcp(_)) {
        return Next::Line;
    }
    let mut state = shared.lock();
    state.ending = Some(Ending::Unreachable);
    state.closed = true;
    drop(state);
    shared.changed.notify_all();
    Next::Done
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
pub fn transport_switch(line: &str) -> Option<bool> {
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
    drop(state);
    shared.screen.show(shown);
}

/// Lo que se muestra de una línea propia ya en la sala (enunciado 004,
/// punto 3): `Me: hola`, con el texto como lo verán los demás (`render`,
/// la regla del servidor). Un comando no es un mensaje: lo que se muestra
/// es su respuesta.
pub fn echo_own_line(
    screen: &dyn Screen,
    parsed: &Result<Option<Command>, protocolo::Problem>,
    render: fn(&str) -> String,
) {
    let (to, text) = match parsed {
        Ok(Some(Command::Public(text))) => (None, text),
        Ok(Some(Command::Private { to, text })) => (Some(to.clone()), text),
        _ => return,
    };
    let text = render(text);
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

    #[test]
    fn a_reply_ends_on_its_last_line() {
        let outside = Entry::Outside;
        assert!(!ends_a_reply(&Some(Event::Welcome), outside));
        assert!(ends_a_reply(&Some(Event::AskBalance), outside));
        assert!(!ends_a_reply(
            &Some(Event::Connected("bob".into())),
            outside
        ));
        let wrong = Some(Event::Error(protocolo::Problem::BadBalance));
        assert!(ends_a_reply(&wrong, outside));
        assert!(
            !ends_a_reply(&wrong, Entry::AwaitingBalance),
            "la pregunta repetida viene detrás"
        );
    }
}
