//! El núcleo del cliente, común a todos sus modos: el estado de la sesión
//! que comparten el hilo que envía y los que reciben (en qué etapa está,
//! cuántas respuestas llegaron, el token, el socket UDP), cómo se lee cada
//! línea del servidor y cómo se envía cada línea del usuario. No abre
//! conexiones: eso lo hace cada modo.

use super::REPLY_WAIT;
use super::screen::{Screen, Shown};
use crate::protocolo::{self, Command, Event};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Hasta cuántos bytes se rellena un datagrama mientras la dirección UDP no
/// está probada: con 64, el triple (lo más que el servidor responde a una
/// dirección sin probar) deja lugar de sobra para la cookie.
const UNPROVEN_DATAGRAM_BYTES: usize = 64;

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
    /// Los datagramas enviados mientras la dirección no estaba probada, en
    /// orden, para repetirlos con la cookie delante cuando llegue.
    pub(super) unproven: Vec<String>,
    /// En modo TCP: las líneas salen por UDP (`:udp`) en vez de TCP.
    pub(super) lines_by_udp: bool,
    /// Se terminó la entrada del usuario.
    pub(super) input_done: bool,
    /// El servidor se despidió.
    pub(super) said_goodbye: bool,
    /// La conexión terminó.
    pub(super) closed: bool,
}

/// Lo que comparten el hilo que envía y los que reciben.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    pub(super) screen: Arc<dyn Screen>,
    pub(super) server: SocketAddr,
}

impl Shared {
    pub(super) fn new(
        screen: Arc<dyn Screen>,
        server: SocketAddr,
        udp: Option<Arc<UdpSocket>>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                stage: Stage::Outside,
                replies: 0,
                name: None,
                token: None,
                udp,
                udp_proven: false,
                unproven: Vec::new(),
                lines_by_udp: false,
                input_done: false,
                said_goodbye: false,
                closed: false,
            }),
            changed: Condvar::new(),
            screen,
            server,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // El estado queda coherente en cada paso: un hilo que entró en
        // pánico no deja al resto del cliente sin él.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Muestra una línea del servidor y actualiza el estado. Devuelve el
    /// evento reconocido, si lo hay.
    pub(super) fn receive(&self, line: &str, me: SocketAddr) -> Option<Event> {
        let event = Event::parse(line);
        // El token es un secreto: quien lo ve (un proyector en el aula)
        // puede usar la sesión y transferir el dinero. El cliente lo guarda
        // para `:udp` y `--udp`, y no lo muestra (issue #13).
        if !matches!(event, Some(Event::Token(_) | Event::UdpToken(_))) {
            self.screen.show(Shown::Server {
                line: line.to_string(),
                event: event.clone(),
            });
        }
        let mut state = self.lock();
        // Una respuesta termina en su última línea: `Welcome` y el token
        // siempre van seguidos de otra, y un error mientras se espera el
        // saldo, de la pregunta repetida.
        let last_of_reply = match &event {
            Some(Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => false,
            Some(Event::Error(_)) => state.stage != Stage::AwaitingBalance,
            _ => true,
        };
        if last_of_reply {
            state.replies += 1;
        }
        match &event {
            Some(Event::Welcome) => {
                let name = state.name.clone().unwrap_or_default();
                self.screen.show(Shown::Identity {
                    name,
                    me,
                    server: self.server,
                });
            }
            Some(Event::Token(token) | Event::UdpToken(token)) => {
                state.token = Some(token.clone());
            }
            Some(Event::AskBalance) => state.stage = Stage::AwaitingBalance,
            Some(Event::BalanceSet(_) | Event::Funds(_)) => state.stage = Stage::Joined,
            Some(Event::Goodbye) => state.said_goodbye = true,
            _ => {}
        }
        drop(state);
        self.changed.notify_all();
        event
    }

    /// Envía `line` por UDP (con el token delante, si hay). Mientras la
    /// dirección no está probada, lo guarda (para repetirlo con la cookie)
    /// y lo rellena con espacios hasta [`UNPROVEN_DATAGRAM_BYTES`]: el
    /// servidor responde a una dirección sin probar a lo sumo el triple de lo
    /// que recibió, y la cookie no cabría en el triple de `:login a b`.
    pub(super) fn send_datagram(
        &self,
        udp: &UdpSocket,
        token: Option<&str>,
        line: &str,
    ) -> io::Result<()> {
        let mut datagram = match token {
            Some(token) => format!("{token} {line}"),
            None => line.to_string(),
        };
        {
            let mut state = self.lock();
            if !state.udp_proven {
                let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
                datagram.push_str(&" ".repeat(pad));
                state.unproven.push(datagram.clone());
            }
        }
        datagram.push('\n');
        udp.send(datagram.as_bytes()).map(|_| ())
    }

    /// El servidor pidió probar la dirección: se repite, con la cookie
    /// delante y en orden, cada datagrama enviado sin probar. La cookie vale
    /// para todos (es de la dirección), y cada uno se repite una sola vez:
    /// las cookies que lleguen después para los mismos ya no encuentran
    /// nada que repetir.
    pub(super) fn resend_with_cookie(&self, udp: &UdpSocket, cookie: &str) {
        let pending = std::mem::take(&mut self.lock().unproven);
        for datagram in pending {
            let _ = udp.send(format!("{cookie} {datagram}\n").as_bytes());
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
        let _ = self
            .changed
            .wait_timeout_while(state, REPLY_WAIT, |s| s.replies == before && !s.closed);
    }
}

/// Por dónde sale una línea del usuario.
pub(super) enum Wire {
    Tcp(TcpStream),
    Udp,
}

/// El hilo emisor: cada línea de `input` va al servidor; al terminar la
/// entrada, envía `:q`.
pub(super) fn send_lines(input: impl Iterator<Item = String>, mut wire: Wire, shared: &Shared) {
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
        (state.stage, state.replies, state.token.clone(), udp)
    };
    if stage == Stage::Joined {
        echo_own_line(shared.screen.as_ref(), &parsed);
    }
    let sent = match (wire, udp) {
        (_, Some(udp)) => shared.send_datagram(&udp, token.as_deref(), line),
        (Wire::Tcp(stream), None) => stream.write_all(format!("{line}\n").as_bytes()),
        (Wire::Udp, None) => Ok(()),
    };
    if sent.is_err() {
        return Next::Broken;
    }
    if quitting {
        return Next::Done;
    }
    // Antes de entrar a la sala, cada línea no vacía tiene respuesta: se
    // espera para que la siguiente se interprete en la etapa correcta.
    if stage != Stage::Joined && !line.trim().is_empty() {
        shared.wait_for_reply(before);
    }
    Next::Line
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
    drop(state);
    shared.screen.show(shown);
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
