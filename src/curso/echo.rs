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
//! Un hilo por conexión cuesta memoria y un lugar en la tabla de hilos: el
//! eco puede cerrar la conexión que pasa `idle` sin una línea completa (un
//! byte cada dos segundos no retiene un hilo para siempre), y el programa
//! completo le pone un tope de conexiones, en total y por dirección IP
//! (el punto de enchufe [`Admission`]). La consola muestra las primeras [`SHOWN_PER_CONNECTION`] lecturas y líneas
//! de cada conexión y resume el resto al cerrarla: un flujo de 7 MB no
//! escribe 350.000 líneas.

use crate::curso::console::Console;
use crate::curso::framing::{Frame, read_frame};
use crate::curso::seams::Admission;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Cuántas lecturas y cuántas líneas de cada conexión se muestran en la
/// consola; las siguientes se cuentan y se resumen al cerrar.
pub const SHOWN_PER_CONNECTION: u64 = 50;

/// El tamaño del búfer de lectura del enunciado 002, en bytes.
pub const ECHO_BUFFER: usize = 20;

/// El largo máximo de una línea, en bytes, sin el `\n`: el mismo número que
/// el chat, pero propio, porque el eco no conoce el protocolo del chat. Una
/// línea más larga cierra la conexión (el eco no tiene cómo decir el error).
pub const MAX_ECHO_LINE_BYTES: usize = 4096;

/// Abre el socket en `addr`, imprime `Listening on HOST:PUERTO` y atiende
/// para siempre, un hilo por conexión. Una conexión que `admission` no
/// admite se cierra enseguida (el eco no tiene cómo decir un error) y se
/// anota en la consola; una que pasa `idle` sin una línea completa, también
/// (`None`: sin plazo). Error: no se pudo abrir el socket.
pub fn run(
    addr: &str,
    console: Console,
    admission: &dyn Admission,
    idle: Option<Duration>,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    console.line(&format!("Listening on {} (echo)", listener.local_addr()?));
    let console = Arc::new(console);
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                console.line(&format!("accept failed: {error}"));
                continue;
            }
        };
        let place = match admission.admit(peer) {
            Ok(place) => place,
            Err(why) => {
                console.line(&format!("Refused {peer} (TCP): {why}"));
                continue;
            }
        };
        let shared = Arc::clone(&console);
        let spawned = thread::Builder::new()
            .name(format!("echo {peer}"))
            .spawn(move || {
                serve(stream, peer, &shared, idle);
                drop(place);
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
