//! Los clientes con que la suite habla con el servidor que califica: uno
//! TCP y uno UDP, los dos con esperas acotadas. Un servidor que no
//! responde, responde otra cosa o se cae hace fallar la expectativa que
//! esperaba, con lo que se esperaba y lo que llegó; nunca cuelga la suite.
//! No sabe qué se le pide al servidor: eso es de `checks`.
//!
//! Entre lo esperado, los dos saltan las líneas que no se esperan: un
//! servidor puede decir más de lo que el contrato pide (el nuestro envía
//! el token UDP al entrar por TCP). Lo que un requisito prohíbe se busca
//! con [`Lines::expect_without`], hasta una marca que el servidor envía
//! después, por el mismo camino: así ninguna prueba espera "a ver si no
//! llega nada".

use crate::extra::cookie::cookie_from_line;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Cuántas de las últimas líneas recibidas se muestran cuando algo falla.
const SHOWN: usize = 4;

/// Lo común a los dos clientes: quién recibe, cuánto espera, las líneas
/// que llegaron y todavía no se leyeron, y las últimas leídas (para el
/// informe de una espera fallida).
pub struct Inbox {
    /// Quién recibe, para el informe: el nombre del usuario.
    who: String,
    /// Cuánto se espera cada línea.
    wait: Duration,
    lines: VecDeque<String>,
    seen: VecDeque<String>,
}

impl Inbox {
    fn new(who: &str, wait: Duration) -> Inbox {
        Inbox {
            who: who.to_string(),
            wait,
            lines: VecDeque::new(),
            seen: VecDeque::new(),
        }
    }

    /// La próxima línea ya llegada, que pasa a estar entre las vistas.
    fn pop(&mut self) -> Option<String> {
        let line = self.lines.pop_front()?;
        if self.seen.len() == SHOWN {
            self.seen.pop_front();
        }
        self.seen.push_back(line.clone());
        Some(line)
    }
}

/// Lo que un cliente de la suite recibe, línea por línea.
pub trait Lines {
    /// Lo recibido hasta ahora.
    fn inbox(&self) -> &Inbox;
    /// La próxima línea antes de `deadline`; `None` si no llegó o el otro
    /// cerró (ver [`Lines::ended`]).
    fn next(&mut self, deadline: Instant) -> Option<String>;
    /// El servidor cerró la conexión.
    fn ended(&self) -> bool;

    /// Quién recibe, para el informe: el nombre del usuario.
    fn who(&self) -> &str {
        &self.inbox().who
    }

    /// Cuánto se espera cada línea.
    fn wait(&self) -> Duration {
        self.inbox().wait
    }

    /// Espera, saltando las demás, una línea que cumpla `wanted`; `what`
    /// la describe para el informe. Error: no llegó en [`Lines::wait`], o
    /// se cerró la conexión antes.
    fn expect(&mut self, what: &str, wanted: &dyn Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + self.wait();
        while let Some(line) = self.next(deadline) {
            if wanted(&line) {
                return Ok(line);
            }
        }
        Err(self.missing(what))
    }

    /// Espera exactamente la línea `line`.
    fn expect_line(&mut self, line: &str) -> Result<(), String> {
        self.expect(&format!("`{line}`"), &|got| got == line)
            .map(drop)
    }

    /// Espera la línea `marker`, y falla si antes llega una que cumple
    /// `forbidden` (`why` dice por qué no debía llegar).
    fn expect_without(
        &mut self,
        marker: &str,
        forbidden: &dyn Fn(&str) -> bool,
        why: &str,
    ) -> Result<(), String> {
        let deadline = Instant::now() + self.wait();
        while let Some(line) = self.next(deadline) {
            if line == marker {
                return Ok(());
            }
            if forbidden(&line) {
                return Err(format!("{}: {why}; llegó {}", self.who(), quoted(&line)));
            }
        }
        Err(self.missing(&format!("`{marker}`")))
    }

    /// El texto de una espera fallida.
    fn missing(&self, what: &str) -> String {
        let how = if self.ended() {
            "antes de que el servidor cerrara la conexión".to_string()
        } else {
            format!("en {} s", self.wait().as_secs())
        };
        let seen = &self.inbox().seen;
        let seen = if seen.is_empty() {
            "no llegó nada".to_string()
        } else {
            let seen: Vec<String> = seen.iter().map(|l| quoted(l)).collect();
            format!("lo último que llegó: {}", seen.join(", "))
        };
        format!("{}: se esperaba {what} {how}; {seen}", self.who())
    }
}

/// Cuántos caracteres de una línea recibida muestra el informe.
pub const QUOTED_CHARS: usize = 200;

/// `line` entre comillas invertidas, para el informe, cortada a
/// [`QUOTED_CHARS`] caracteres (con `…`): una línea enorme de un servidor
/// roto no llena la tabla.
pub fn quoted(line: &str) -> String {
    match line.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("`{}…`", &line[..cut]),
        None => format!("`{line}`"),
    }
}

/// Separa en líneas lo que llegó, sin `\n` ni `\r`; lo que queda sin `\n`
/// se queda en `pending`.
///
/// Los bytes que no son UTF-8 se leen como `�`. Un servidor que escribe
/// más de [`MAX_LINE_BYTES`] sin `\n` tiene su línea cortada ahí: la suite
/// no guarda sin tope lo que un servidor roto no termina nunca.
pub(super) fn split(pending: &mut Vec<u8>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = pending.drain(..=end).collect();
        lines.push(text(&line[..end]));
    }
    if pending.len() > MAX_LINE_BYTES {
        lines.push(text(&pending[..MAX_LINE_BYTES]));
        pending.drain(..MAX_LINE_BYTES);
    }
    lines
}

/// Una línea recibida, sin `\r` final.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\r')
        .to_string()
}

/// El largo, en bytes, a partir del cual la suite corta una línea que no
/// termina: 64 KiB, mucho más que cualquier línea del chat (4 KiB).
pub const MAX_LINE_BYTES: usize = 65_536;

fn is_wait(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Una conexión TCP con el servidor.
pub struct Tcp {
    inbox: Inbox,
    stream: TcpStream,
    pending: Vec<u8>,
    ended: bool,
}

impl Tcp {
    /// Se conecta a `addr`; `who` nombra la conexión en el informe.
    /// Error: la conexión no se pudo abrir en `wait`.
    pub fn connect(addr: SocketAddr, who: &str, wait: Duration) -> Result<Tcp, String> {
        let stream = TcpStream::connect_timeout(&addr, wait)
            .map_err(|e| format!("{who}: no se pudo conectar a {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(wait));
        Ok(Tcp {
            inbox: Inbox::new(who, wait),
            stream,
            pending: Vec::new(),
            ended: false,
        })
    }

    /// Envía `line` y su `\n`.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        self.send_bytes(format!("{line}\n").as_bytes())
    }

    /// Envía `bytes` tal cual, en una sola escritura.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("{}: no se pudo enviar: {e}", self.who()))
    }

    /// Espera a que el servidor cierre la conexión, saltando lo que llegue.
    pub fn expect_closed(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + self.wait();
        while self.next(deadline).is_some() {}
        if self.ended {
            return Ok(());
        }
        Err(self.missing("que el servidor cerrara la conexión"))
    }
}

impl Lines for Tcp {
    fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    fn next(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(line) = self.inbox.pop() {
                return Some(line);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.ended || left.is_zero() {
                return None;
            }
            let _ = self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let mut buffer = [0u8; 4096];
            match self.stream.read(&mut buffer) {
                Ok(0) => {
                    self.ended = true;
                    if !self.pending.is_empty() {
                        self.pending.push(b'\n');
                        let lines = split(&mut self.pending);
                        self.inbox.lines.extend(lines);
                    }
                }
                Ok(n) => {
                    self.pending.extend_from_slice(&buffer[..n]);
                    let lines = split(&mut self.pending);
                    self.inbox.lines.extend(lines);
                }
                Err(e) if is_wait(&e) => {}
                // Una conexión reiniciada también es una conexión cerrada.
                Err(_) => self.ended = true,
            }
        }
    }

    fn ended(&self) -> bool {
        self.ended
    }
}

/// Un socket UDP hacia el servidor, como el cliente `--udp` (enunciado
/// 000): con el token delante de cada línea desde que lo tiene. Si el
/// servidor pide probar la dirección con una cookie (el programa completo
/// de este proyecto lo hace; un servidor del curso no), repite lo último
/// que envió con la cookie delante, sin mostrarla como línea.
pub struct Udp {
    inbox: Inbox,
    socket: UdpSocket,
    server: SocketAddr,
    token: Option<String>,
    /// Lo último enviado, tal como salió: lo que se repite con la cookie.
    last: String,
}

impl Udp {
    /// Un socket en `127.0.0.1` hacia `server`. Error: no se pudo abrir.
    pub fn open(server: SocketAddr, who: &str, wait: Duration) -> Result<Udp, String> {
        let socket = UdpSocket::bind((server.ip(), 0))
            .map_err(|e| format!("{who}: no se pudo abrir un socket UDP: {e}"))?;
        Ok(Udp {
            inbox: Inbox::new(who, wait),
            socket,
            server,
            token: None,
            last: String::new(),
        })
    }

    /// Desde ahora, cada línea sale con `token` delante.
    pub fn use_token(&mut self, token: &str) {
        self.token = Some(token.to_string());
    }

    /// El token con que sale cada línea, si ya lo tiene.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Envía `line` en un datagrama, con el token delante si lo tiene.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        let datagram = match &self.token {
            Some(token) => format!("{token} {line}"),
            None => line.to_string(),
        };
        self.send_raw(&datagram)
    }

    /// Envía `datagram` tal cual (y su `\n`), sin token.
    pub fn send_raw(&mut self, datagram: &str) -> Result<(), String> {
        self.last = datagram.to_string();
        self.socket
            .send_to(format!("{datagram}\n").as_bytes(), self.server)
            .map(drop)
            .map_err(|e| format!("{}: no se pudo enviar: {e}", self.who()))
    }
}

impl Lines for Udp {
    fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    fn next(&mut self, deadline: Instant) -> Option<String> {
        loop {
            // La cookie no es una línea del chat: se atiende aquí.
            if let Some(cookie) = self.inbox.lines.front().and_then(|l| cookie_from_line(l)) {
                let again = format!("{cookie} {}\n", self.last);
                let _ = self.socket.send_to(again.as_bytes(), self.server);
                self.inbox.lines.pop_front();
                continue;
            }
            if let Some(line) = self.inbox.pop() {
                return Some(line);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = self
                .socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let mut buffer = vec![0u8; 65_536];
            match self.socket.recv_from(&mut buffer) {
                Ok((n, from)) if from == self.server => {
                    let mut datagram = buffer[..n].to_vec();
                    if datagram.last() != Some(&b'\n') {
                        datagram.push(b'\n');
                    }
                    self.inbox.lines.extend(split(&mut datagram));
                }
                Ok(_) => {}
                Err(e) if is_wait(&e) => {}
                // Un ICMP "puerto inalcanzable" de un envío anterior: el
                // servidor no escucha; se sigue esperando hasta el plazo.
                Err(_) => {}
            }
        }
    }

    fn ended(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_at_newlines_and_a_line_that_never_ends_is_cut() {
        let mut pending = b"uno\r\ndos\ntr".to_vec();
        assert_eq!(split(&mut pending), ["uno", "dos"]);
        assert_eq!(pending, b"tr");
        let mut endless = vec![b'x'; MAX_LINE_BYTES + 10];
        let lines = split(&mut endless);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(endless.len(), 10);
    }

    #[test]
    fn a_quoted_line_is_cut_for_the_report() {
        assert_eq!(quoted("hola"), "`hola`");
        let long = "ñ".repeat(QUOTED_CHARS + 5);
        assert_eq!(quoted(&long), format!("`{}…`", "ñ".repeat(QUOTED_CHARS)));
    }
}
