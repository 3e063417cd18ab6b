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
//! Quién entra ([`Admission`]) y cómo se atiende cada conexión ([`Serve`])
//! son puntos de enchufe: el eco del curso admite a todos y muestra todo
//! ([`serve`]); el programa completo le pone topes de conexiones, un plazo
//! para completar cada línea y un tope a lo que muestra la consola.

use crate::curso::console::Console;
use crate::curso::framing::{Frame, read_frame};
use crate::curso::seams::Admission;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

/// El tamaño del búfer de lectura del enunciado 002, en bytes.
pub const ECHO_BUFFER: usize = 20;

/// El largo máximo de una línea, en bytes, sin el `\n`: el mismo número que
/// el chat, pero propio, porque el eco no conoce el protocolo del chat. Una
/// línea más larga cierra la conexión (el eco no tiene cómo decir el error).
pub const MAX_ECHO_LINE_BYTES: usize = 4096;

/// Cómo se atiende una conexión, en su hilo: el socket, quién es y la
/// consola. La del curso es [`serve`].
pub type Serve = Arc<dyn Fn(TcpStream, SocketAddr, &Console) + Send + Sync>;

/// Abre el socket en `addr`, imprime `Listening on HOST:PUERTO` y atiende
/// para siempre, un hilo por conexión, con `serve`. Una conexión que
/// `admission` no admite se cierra enseguida (el eco no tiene cómo decir un
/// error) y se anota en la consola. Error: no se pudo abrir el socket.
pub fn run(
    addr: &str,
    console: Console,
    admission: &dyn Admission,
    serve: Serve,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    console(&format!("Listening on {} (echo)", listener.local_addr()?));
    let console = Arc::new(console);
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                console(&format!("accept failed: {error}"));
                continue;
            }
        };
        let place = match admission.admit(peer) {
            Ok(place) => place,
            Err(why) => {
                console(&format!("Refused {peer} (TCP): {why}"));
                continue;
            }
        };
        let (shared, serve) = (Arc::clone(&console), Arc::clone(&serve));
        let spawned = thread::Builder::new()
            .name(format!("echo {peer}"))
            .spawn(move || {
                serve(stream, peer, &shared);
                // El lugar de la conexión queda libre al terminar su hilo.
                drop(place);
            });
        if let Err(error) = spawned {
            console(&format!("cannot serve {peer}: {error}"));
        }
    }
}

/// Un `Read` que anota en la consola cuántos bytes trajo cada lectura: así
/// se ve que las lecturas no coinciden con los mensajes.
pub struct Reads<'a> {
    pub stream: &'a TcpStream,
    pub peer: SocketAddr,
    pub console: &'a Console,
}

impl Read for Reads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.stream).read(buf)?;
        if n > 0 {
            (self.console)(&format!("{}: read {n} bytes", self.peer));
        }
        Ok(n)
    }
}

/// El eco del curso: cada lectura y cada línea a la consola, y cada línea
/// de vuelta al cliente, hasta que cierra, corta o manda una línea de más
/// de [`MAX_ECHO_LINE_BYTES`].
pub fn serve(stream: TcpStream, peer: SocketAddr, console: &Console) {
    console(&format!("Connection from {peer} (TCP)"));
    let reads = Reads {
        stream: &stream,
        peer,
        console,
    };
    let mut reader = BufReader::with_capacity(ECHO_BUFFER, reads);
    let mut line = Vec::new();
    while let Ok(Frame::Line) = read_frame(&mut reader, &mut line, MAX_ECHO_LINE_BYTES) {
        line.push(b'\n');
        console(&echoed(peer, &line));
        if (&stream).write_all(&line).is_err() {
            break;
        }
    }
    console(&format!("Connection closed: {peer} (TCP)"));
}

/// La línea de la consola para una línea devuelta (con su `\n`).
pub fn echoed(peer: SocketAddr, line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    format!("{peer}: echo {:?} ({} bytes)", text.trim_end(), line.len())
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
