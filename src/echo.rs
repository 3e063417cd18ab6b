//! El servidor de eco TCP multihilo (enunciado 002): un hilo por conexión,
//! que lee en trozos de 20 bytes, corta en `\n` y responde cada línea con la
//! misma línea.
//!
//! Existe para enseñar el encuadre: la consola muestra cada `read`, y se ve
//! que un mensaje puede llegar en varias lecturas y que una lectura puede
//! traer partes de dos mensajes. Como se decodifica UTF-8 recién con la línea
//! completa, una `ñ` o una `á` partida entre dos lecturas llega entera. No
//! sabe nada del chat.

use crate::console::Console;
use crate::protocolo::MAX_LINE_BYTES;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

/// El tamaño del búfer de lectura del enunciado 002, en bytes.
pub const ECHO_BUFFER: usize = 20;

/// Saca de `pending` todas las líneas completas (cada una con su `\n`),
/// en orden. Lo que queda en `pending` es una línea a medias.
pub fn take_lines(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
        lines.push(pending.drain(..=end).collect());
    }
    lines
}

/// Abre el socket en `addr`, imprime `Listening on HOST:PUERTO` y atiende
/// para siempre, un hilo por conexión. Error: no se pudo abrir el socket.
pub fn run(addr: &str, console: Console) -> io::Result<()> {
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
        let shared = Arc::clone(&console);
        let spawned = thread::Builder::new()
            .name(format!("echo {peer}"))
            .spawn(move || serve(stream, peer, &shared));
        if let Err(error) = spawned {
            console.line(&format!("cannot serve {peer}: {error}"));
        }
    }
}

fn serve(mut stream: TcpStream, peer: SocketAddr, console: &Console) {
    console.line(&format!("Connection from {peer} (TCP)"));
    let mut buffer = [0u8; ECHO_BUFFER];
    let mut pending = Vec::new();
    loop {
        let n = match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        console.line(&format!("{peer}: read {n} bytes"));
        pending.extend_from_slice(&buffer[..n]);
        for line in take_lines(&mut pending) {
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            console.line(&format!("{peer}: echo {text:?} ({} bytes)", line.len()));
            if stream.write_all(&line).is_err() {
                return;
            }
        }
        if pending.len() > MAX_LINE_BYTES {
            console.line(&format!(
                "{peer}: line over {MAX_LINE_BYTES} bytes, closing"
            ));
            break;
        }
    }
    console.line(&format!("Connection closed: {peer} (TCP)"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_out_whole_whatever_the_reads() {
        let message = "Hola Server! ñandú\nsegunda línea\nmed".as_bytes();
        for chunk in 1..=ECHO_BUFFER {
            let mut pending = Vec::new();
            let mut lines = Vec::new();
            for piece in message.chunks(chunk) {
                pending.extend_from_slice(piece);
                lines.extend(take_lines(&mut pending));
            }
            assert_eq!(
                lines,
                [
                    "Hola Server! ñandú\n".as_bytes().to_vec(),
                    "segunda línea\n".as_bytes().to_vec()
                ]
            );
            assert_eq!(pending, b"med");
        }
    }
}
