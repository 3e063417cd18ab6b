//! El servidor de eco TCP multihilo (enunciado 002): un hilo por conexión,
//! que lee en trozos de 20 bytes, corta en `\n` y responde cada línea con la
//! misma línea.
//!
//! Existe para enseñar el encuadre: la consola muestra cada `read`, y se ve
//! que un mensaje puede llegar en varias lecturas y que una lectura puede
//! traer partes de dos mensajes. Corta las líneas con el mismo `read_frame`
//! que el chat ([`crate::curso::framing`]), sobre un búfer de 20 bytes. Como se
//! decodifica UTF-8 recién con la línea completa, una `ñ` o una `á` partida
//! entre dos lecturas llega entera. No sabe nada del chat.
//!
//! Un hilo por conexión cuesta memoria y un lugar en la tabla de hilos: como
//! el chat, el eco tiene un tope de conexiones en total y por dirección IP
//! ([`Limits`]), y cierra la conexión que pasa `idle` sin una línea
//! completa (un byte cada dos segundos no retiene un hilo para siempre). La
//! consola muestra las primeras [`SHOWN_PER_CONNECTION`] lecturas y líneas
//! de cada conexión y resume el resto al cerrarla: un flujo de 7 MB no
//! escribe 350.000 líneas.

use crate::curso::console::Console;
use crate::curso::framing::{Frame, read_frame};
use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Cuántas lecturas y cuántas líneas de cada conexión se muestran en la
/// consola; las siguientes se cuentan y se resumen al cerrar.
pub const SHOWN_PER_CONNECTION: u64 = 50;

/// Los límites del eco: conexiones abiertas a la vez en total y desde una
/// misma dirección IP (0 = sin límite; los mismos `--max-clients` y
/// `--max-clients-per-ip` del chat), y el tiempo sin una línea completa
/// tras el que se cierra una conexión (`None` = sin límite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Conexiones a la vez (0 = sin límite).
    pub max_clients: usize,
    /// Conexiones a la vez desde una dirección IP (0 = sin límite).
    pub per_ip: usize,
    /// Sin una línea completa por este tiempo, la conexión se cierra.
    pub idle: Option<Duration>,
}

/// Las conexiones abiertas, en total y por dirección, bajo un candado: se
/// toma para contar al aceptar y al cerrar, nunca durante una lectura.
struct Slots {
    limits: Limits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// El lugar de una conexión: al soltarlo (la conexión terminó, por la razón
/// que sea, también un pánico de su hilo), se libera.
struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    /// Un lugar para una conexión desde `ip`, si cabe. `Err` dice por qué
    /// no, para la consola.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        let mut open = crate::curso::sync::lock(&self.open);
        let (total, per_ip) = &mut *open;
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        if self.limits.max_clients > 0 && *total >= self.limits.max_clients {
            return Err("the server is full (--max-clients)");
        }
        if self.limits.per_ip > 0 && from_ip >= self.limits.per_ip {
            return Err("too many connections from its address (--max-clients-per-ip)");
        }
        *total += 1;
        per_ip.insert(ip, from_ip + 1);
        Ok(Slot {
            slots: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = crate::curso::sync::lock(&self.slots.open);
        let (total, per_ip) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// El tamaño del búfer de lectura del enunciado 002, en bytes.
pub const ECHO_BUFFER: usize = 20;

/// El largo máximo de una línea, en bytes, sin el `\n`: el mismo número que
/// el chat, pero propio, porque el eco no conoce el protocolo del chat. Una
/// línea más larga cierra la conexión (el eco no tiene cómo decir el error).
pub const MAX_ECHO_LINE_BYTES: usize = 4096;

/// Abre el socket en `addr`, imprime `Listening on HOST:PUERTO` y atiende
/// para siempre, un hilo por conexión, dentro de `limits`: una conexión de
/// más se cierra enseguida (el eco no tiene cómo decir un error) y se anota
/// en la consola. Error: no se pudo abrir el socket.
pub fn run(addr: &str, console: Console, limits: Limits) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    console.line(&format!("Listening on {} (echo)", listener.local_addr()?));
    let console = Arc::new(console);
    let slots = Arc::new(Slots {
        limits,
        open: Mutex::new((0, HashMap::new())),
    });
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                console.line(&format!("accept failed: {error}"));
                continue;
            }
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                console.line(&format!("Refused {peer} (TCP): {why}"));
                continue;
            }
        };
        let shared = Arc::clone(&console);
        let idle = limits.idle;
        let spawned = thread::Builder::new()
            .name(format!("echo {peer}"))
            .spawn(move || {
                serve(stream, peer, &shared, idle);
                drop(slot);
            });
        if let Err(error) = spawned {
            console.line(&format!("cannot serve {peer}: {error}"));
        }
    }
}

/// Un `Read` que anota en la consola cuántos bytes trajo cada lectura: así
/// se ve que las lecturas no coinciden con los mensajes. Las primeras
/// [`SHOWN_PER_CONNECTION`]; las demás solo se cuentan. Con `idle`, una
/// lectura que llega pasado el plazo desde la última línea completa (que
/// [`serve`] anota en `last_line`) falla con `TimedOut`.
struct Shown<'a> {
    stream: &'a TcpStream,
    peer: SocketAddr,
    console: &'a Console,
    reads: u64,
    bytes: u64,
    idle: Option<Duration>,
    last_line: Instant,
}

impl Read for Shown<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(idle) = self.idle {
            let left = idle.saturating_sub(self.last_line.elapsed());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            // Lo que falta del plazo, no el plazo entero: si no, un byte
            // justo antes de vencer daría otro plazo completo.
            self.stream.set_read_timeout(Some(left))?;
        }
        let n = (&*self.stream).read(buf)?;
        if n > 0 {
            self.reads += 1;
            self.bytes += n as u64;
            if self.reads <= SHOWN_PER_CONNECTION {
                self.console.line(&format!("{}: read {n} bytes", self.peer));
            }
        }
        Ok(n)
    }
}

fn serve(stream: TcpStream, peer: SocketAddr, console: &Console, idle: Option<Duration>) {
    console.line(&format!("Connection from {peer} (TCP)"));
    let shown = Shown {
        stream: &stream,
        peer,
        console,
        reads: 0,
        bytes: 0,
        idle,
        last_line: Instant::now(),
    };
    let mut reader = BufReader::with_capacity(ECHO_BUFFER, shown);
    let mut line = Vec::new();
    let mut lines = 0u64;
    let ended = loop {
        match read_frame(&mut reader, &mut line, MAX_ECHO_LINE_BYTES) {
            Ok(Frame::Line) => {}
            Ok(_) => break None,
            Err(error) => break Some(error),
        }
        reader.get_mut().last_line = Instant::now();
        lines += 1;
        line.push(b'\n');
        if lines <= SHOWN_PER_CONNECTION {
            let text = String::from_utf8_lossy(&line);
            console.line(&format!(
                "{peer}: echo {:?} ({} bytes)",
                text.trim_end(),
                line.len()
            ));
        }
        if (&stream).write_all(&line).is_err() {
            break None;
        }
    };
    let shown = reader.get_ref();
    let hidden_reads = shown.reads.saturating_sub(SHOWN_PER_CONNECTION);
    let hidden_lines = lines.saturating_sub(SHOWN_PER_CONNECTION);
    if hidden_reads > 0 || hidden_lines > 0 {
        console.line(&format!(
            "{peer}: {hidden_reads} more reads and {hidden_lines} more lines not shown \
             ({} bytes in all)",
            shown.bytes
        ));
    }
    let timed_out = ended.is_some_and(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    });
    if let (true, Some(idle)) = (timed_out, idle) {
        console.line(&format!(
            "{peer}: no complete line in {} s, so the connection was closed",
            idle.as_secs()
        ));
    }
    console.line(&format!("Connection closed: {peer} (TCP)"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Un lector que entrega de a `chunk` bytes, como un socket lento.
    struct Chunked<'a>(&'a [u8], usize);

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_come_out_whole_whatever_the_reads() {
        let message = "Hola Server! ñandú\nsegunda línea\nmed".as_bytes();
        for chunk in 1..=ECHO_BUFFER {
            let mut reader = BufReader::with_capacity(ECHO_BUFFER, Chunked(message, chunk));
            let mut line = Vec::new();
            let mut lines = Vec::new();
            while let Ok(Frame::Line) = read_frame(&mut reader, &mut line, MAX_ECHO_LINE_BYTES) {
                lines.push(String::from_utf8(line.clone()).expect("UTF-8 entero"));
            }
            // La línea a medias del final ("med") no se responde.
            assert_eq!(
                lines,
                ["Hola Server! ñandú", "segunda línea"],
                "de a {chunk}"
            );
        }
    }
}
