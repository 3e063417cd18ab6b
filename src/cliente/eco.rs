//! El modo `--echo` del cliente: una línea al servidor de eco (enunciado
//! 002) y su respuesta.

use super::REPLY_WAIT;
use super::ending::Ending;
use super::screen::{Screen, Shown};
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

pub(super) fn run(addr: &str, message: &str, screen: &dyn Screen) -> io::Result<Ending> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(REPLY_WAIT))?;
    stream.write_all(format!("{message}\n").as_bytes())?;
    let mut answer = Vec::new();
    let got = BufReader::new(&stream).read_until(b'\n', &mut answer);
    if !matches!(got, Ok(n) if n > 0) || answer.last() != Some(&b'\n') {
        return Ok(Ending::Lost);
    }
    let text = String::from_utf8_lossy(&answer);
    let line = text.trim_end_matches(['\n', '\r']);
    screen.show(Shown::Server {
        line: line.to_string(),
        event: None,
    });
    Ok(Ending::Left)
}
