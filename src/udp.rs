//! El lado UDP del chat (enunciados 000 y 001): un solo hilo atiende todos
//! los datagramas que llegan al `UdpSocket`, en la misma sala, con las mismas
//! cuentas y el mismo banco que TCP.
//!
//! Por qué basta un hilo: con TCP, cada cliente tiene su propio socket
//! conectado y un `read` bloquea esperando a *ese* cliente, así que hace
//! falta un hilo por cliente. Con UDP hay un solo socket para todos: cada
//! `recv_from` devuelve el próximo datagrama de *cualquier* cliente junto con
//! su dirección, y responder es un `send_to` que no espera a nadie. El costo:
//! mientras el hilo calcula el hash de una contraseña (decenas de
//! milisegundos), los demás datagramas esperan en el búfer del kernel.
//!
//! UDP no tiene conexión, así que la sesión se identifica con un token que
//! cada datagrama lleva delante (`<TOKEN> <línea>`), y una sesión solo-UDP
//! termina con `:q` o por inactividad. No se retransmite nada: un datagrama
//! perdido se pierde, que es lo que UDP es. Este módulo no decide reglas del
//! chat: llama a las acciones de [`Chat`].

use crate::abuse::{LineLimiter, Verdict};
use crate::outbox::{Flusher, Link, Outbox};
use crate::protocolo::{self, Command, Event, MAX_LINE_BYTES, Problem};
use crate::room::{Presence, UdpEndpoint, Via};
use crate::session::{Chat, send};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Inactividad por defecto tras la que se cierra una sesión solo-UDP.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);

/// Tamaño del búfer de recepción: el máximo de un datagrama UDP, para que uno
/// más largo que 4096 bytes se vea entero (y se rechace) en vez de truncarse.
const RECV_BUFFER: usize = 65_536;

/// Cada cuánto, como mucho, se revisa la inactividad.
const SWEEP_EVERY: Duration = Duration::from_millis(200);

/// Un destino UDP como [`Link`] de una cola: cada línea sale en su propio
/// datagrama (con su `\n`, para que `nc -u` las muestre una por línea).
struct UdpLink {
    socket: Arc<UdpSocket>,
    addr: SocketAddr,
}

impl Link for UdpLink {
    fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            // Si el kernel no puede enviarlo, el datagrama se pierde: es UDP.
            let _ = self.socket.send_to(line, self.addr);
        }
        Ok(bytes.len())
    }

    fn close(&self) {}
}

/// El servidor UDP: su socket, el estado compartido y la configuración.
pub struct UdpServer {
    socket: Arc<UdpSocket>,
    chat: Arc<Chat>,
    flusher: Arc<Flusher>,
    queue_limit: usize,
    idle: Duration,
    /// El balde de líneas de cada dirección que envía sin token (solo el
    /// hilo UDP lo toca: no hace falta `Mutex`).
    anonymous: RefCell<HashMap<SocketAddr, LineLimiter>>,
}

impl UdpServer {
    /// Prepara el servidor sobre un socket ya abierto (`bind`). `idle` es la
    /// inactividad tras la que se cierra una sesión solo-UDP.
    pub fn new(
        socket: UdpSocket,
        chat: Arc<Chat>,
        flusher: Arc<Flusher>,
        queue_limit: usize,
        idle: Duration,
    ) -> UdpServer {
        UdpServer {
            socket: Arc::new(socket),
            chat,
            flusher,
            queue_limit,
            idle,
            anonymous: RefCell::new(HashMap::new()),
        }
    }

    /// El bucle del hilo UDP: recibe, atiende y revisa la inactividad. No
    /// termina salvo un error irrecuperable del socket.
    pub fn serve(&self) -> io::Result<()> {
        // Despertar de vez en cuando aunque nadie envíe nada, para revisar
        // la inactividad.
        self.socket.set_read_timeout(Some(
            SWEEP_EVERY.min(self.idle).max(Duration::from_millis(10)),
        ))?;
        let mut buffer = vec![0u8; RECV_BUFFER];
        let mut last_sweep = Instant::now();
        loop {
            match self.socket.recv_from(&mut buffer) {
                Ok((n, from)) => self.datagram(&buffer[..n], from),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            // Un ICMP "puerto inalcanzable" de un envío anterior.
                            | io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => return Err(e),
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                self.expire();
            }
        }
    }

    fn endpoint(&self, addr: SocketAddr) -> UdpEndpoint {
        let link = UdpLink {
            socket: Arc::clone(&self.socket),
            addr,
        };
        UdpEndpoint {
            addr,
            outbox: Outbox::new(link, self.queue_limit, &self.flusher),
        }
    }

    /// Responde directamente a una dirección sin sesión.
    fn answer(&self, to: SocketAddr, event: &Event) {
        let _ = self.socket.send_to(event.to_line().as_bytes(), to);
    }

    /// Atiende un datagrama: una línea, con o sin token delante.
    fn datagram(&self, bytes: &[u8], from: SocketAddr) {
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.contains(&b'\n') {
            return self.answer(from, &Event::Error(Problem::OneLinePerDatagram));
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return self.answer(from, &Event::Error(Problem::InvalidUtf8));
        };
        let (token, line) = match protocolo::split_token(text) {
            Some((token, line)) => (Some(token), line),
            None => (None, text),
        };
        // El límite es el de la línea, sin contar el token que la precede.
        if line.len() > MAX_LINE_BYTES {
            return self.answer(from, &Event::Error(Problem::LineTooLong));
        }
        match token {
            Some(token) => self.with_token(token, line, from),
            None => self.without_token(line, from),
        }
    }

    /// Un datagrama sin token: solo sirve para entrar (o pedir ayuda). Cada
    /// dirección tiene su propio límite de líneas por segundo; lo que pasa
    /// del límite se descarta (no hay sesión que cerrar).
    fn without_token(&self, line: &str, from: SocketAddr) {
        if let Some(rate) = self.chat.guards.rate {
            let now = Instant::now();
            let verdict = self
                .anonymous
                .borrow_mut()
                .entry(from)
                .or_insert_with(|| LineLimiter::new(rate, now))
                .check(rate, now);
            match verdict {
                Verdict::Pass | Verdict::Delay { .. } => {}
                Verdict::Drop { warn: true } => {
                    return self.answer(from, &Event::Error(Problem::TooFast(rate.per_sec)));
                }
                Verdict::Drop { warn: false } => return,
            }
        }
        let command = match protocolo::parse_command(line) {
            Ok(Some(Command::Help)) => return self.answer(from, &Event::Help),
            Ok(Some(command)) => command,
            Ok(None) => return,
            Err(problem) => return self.answer(from, &Event::Error(problem)),
        };
        // La cola hacia esta dirección se crea solo si es una entrada.
        let mut reply = None;
        let presence = || {
            let endpoint = self.endpoint(from);
            reply = Some(Arc::clone(&endpoint.outbox));
            Presence::Udp(endpoint)
        };
        let peer = format!("{from} (UDP)");
        let result = self
            .chat
            // `false`: la dirección de un datagrama no está comprobada.
            .sign_in(&command, presence, &peer, from.ip(), false)
            .unwrap_or(Err(Problem::BadToken));
        match result {
            Ok(signed) => {
                // Entrar siempre pasa por `presence`, que dejó la cola en `reply`.
                if let Some(reply) = reply {
                    self.chat
                        .welcome(&signed, &reply, Event::Token(signed.token.clone()));
                }
            }
            Err(problem) => self.answer(from, &Event::Error(problem)),
        }
    }

    /// Un datagrama `<TOKEN> <línea>`: se atiende como si la línea hubiera
    /// llegado por la conexión de ese usuario, y la respuesta vuelve a la
    /// dirección de este datagrama.
    fn with_token(&self, token: &str, line: &str, from: SocketAddr) {
        let Some(user) = self.chat.room.by_token(token, from, |a| self.endpoint(a)) else {
            return self.answer(from, &Event::Error(Problem::BadToken));
        };
        if user.new_address {
            self.chat
                .log(&format!("{} uses UDP from {from} (UDP)", user.name));
        }
        let parsed = protocolo::parse_command(line);
        if parsed == Ok(Some(Command::Quit)) {
            return self.quit(token, &user.reply, user.tcp.as_ref());
        }
        // El límite es del usuario: el mismo balde que su conexión TCP.
        if !self.chat.admit_datagram(&user.name, &user.reply) {
            return;
        }
        if !user.joined {
            self.chat.answer_balance(&user.name, line, &user.reply);
            return;
        }
        match parsed {
            Ok(Some(command)) => self
                .chat
                .command(&user.name, command, &user.reply, Via::Udp),
            Ok(None) => {}
            Err(problem) => send(&user.reply, &Event::Error(problem)),
        }
    }

    /// `<TOKEN> :q`: cierra la sesión y revoca el token. La despedida vuelve
    /// por UDP, como toda respuesta; si el usuario también tenía conexión
    /// TCP, se cierra sin repetirla: `:q` saca al usuario, no a un transporte.
    fn quit(&self, token: &str, reply: &Arc<Outbox>, tcp: Option<&Arc<Outbox>>) {
        self.chat.leave(token);
        send(reply, &Event::Goodbye);
        if let Some(tcp) = tcp {
            tcp.finish(Duration::ZERO);
        }
    }

    fn expire(&self) {
        if let Some(rate) = self.chat.guards.rate {
            let now = Instant::now();
            self.anonymous.borrow_mut().retain(|addr, limiter| {
                if let Some(dropped) = limiter.take_dropped(rate, now) {
                    self.chat.log_dropped(&format!("{addr} (UDP)"), dropped);
                }
                !limiter.is_calm(rate, now)
            });
            for (name, dropped) in self.chat.guards.finished_floods(now) {
                self.chat.log_dropped(&name, dropped);
            }
        }
        for expired in self.chat.room.expire_udp(self.idle) {
            send(&expired.outbox, &Event::Goodbye);
            if let Some(others) = expired.others {
                let notice = Event::Disconnected(expired.name);
                crate::session::deliver(&others, &notice);
                self.chat.log(&notice.to_string());
            }
        }
    }
}
