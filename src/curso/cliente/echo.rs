//! El modo `--echo` del cliente: una línea al servidor de eco (enunciado
//! 002) y su respuesta.

use super::REPLY_WAIT;
use super::ending::Ending;
use super::screen::{Screen, Shown};
use crate::curso::framing::{Frame, read_frame};
use crate::curso::protocolo::MAX_LINE_BYTES;
use std::io::{self, BufReader, Write};
use std::net::TcpStream;

/// Envía `message` al servidor de eco en `addr` y muestra la respuesta.
/// Devuelve [`Ending::Left`] si respondió, [`Ending::Lost`] si cerró sin
/// responder o no respondió en [`REPLY_WAIT`]. Error: no se pudo conectar.
pub fn run(addr: &str, message: &str, screen: &dyn Screen) -> io::Result<Ending> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(REPLY_WAIT))?;
    stream.write_all(format!("{message}\n").as_bytes())?;
    let mut answer = Vec::new();
    let got = read_frame(&mut BufReader::new(&stream), &mut answer, MAX_LINE_BYTES);
    if !matches!(got, Ok(Frame::Line)) {
        return Ok(Ending::Lost);
    }
    screen.show(Shown::Server {
        line: String::from_utf8_lossy(&answer).into_owned(),
        event: None,
    });
    Ok(Ending::Left)
}
