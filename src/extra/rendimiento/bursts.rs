//! La lectura de un cliente TCP en el programa completo ([`Bursts`], el
//! [`ReadLoop`] que se enchufa en el servidor): un búfer que crece solo
//! durante una ráfaga ([`ElasticReader`]) y las líneas que llegaron juntas
//! atendidas en una **tanda**: lo que generan para otros sale en un solo
//! `write` por destinatario ([`WriteBatch`]) y las `:t` de la tanda esperan
//! el disco una sola vez, al final. El curso lee con un `BufReader` y
//! atiende cada línea apenas llega ([`LineByLine`]).
//!
//! No es dueño de lo que significa una línea (la sesión del curso) ni de
//! las colas de salida (`outbox`).

use super::outbox::WriteBatch;
use crate::curso::framing::{Frame, read_frame};
use crate::curso::protocolo::MAX_LINE_BYTES;
#[cfg(doc)]
use crate::curso::servidor::LineByLine;
use crate::curso::servidor::ReadLoop;
use crate::curso::session::{Chat, Flow, Session};
use std::io::{self, BufRead, Read};
use std::net::TcpStream;
use std::thread;
use std::time::Instant;

/// Tamaño del búfer de lectura de un cliente que espera, en bytes (ver
/// [`ElasticReader`]).
const READ_BUFFER_IDLE: usize = 512;

/// Tamaño del búfer de lectura de un cliente que envía una ráfaga, en
/// bytes: unas 80 líneas de 100 bytes por `read`, y por tanda.
const READ_BUFFER_BURST: usize = 8 * 1024;

/// La lectura en tandas del programa completo (ver el módulo).
pub struct Bursts;

impl ReadLoop for Bursts {
    fn run(&self, stream: &TcpStream, chat: &Chat, session: &mut Session) {
        let mut reader = ElasticReader::new(stream, READ_BUFFER_IDLE, READ_BUFFER_BURST);
        let mut line = Vec::new();
        loop {
            // Puede bloquearse esperando datos: aquí no hay tanda abierta.
            let frame = read_frame(&mut reader, &mut line, MAX_LINE_BYTES);
            if burst(chat, session, &mut reader, &mut line, frame) == Flow::Close {
                return;
            }
        }
    }
}

/// Atiende `frame` y, sin volver a esperar al socket, cada línea completa
/// que ya esté en el búfer de `reader`: una tanda. Devuelve si la sesión
/// sigue.
fn burst(
    chat: &Chat,
    session: &mut Session,
    reader: &mut ElasticReader<&TcpStream>,
    line: &mut Vec<u8>,
    mut frame: io::Result<Frame>,
) -> Flow {
    let mut batch = WriteBatch::begin();
    loop {
        // Una línea descartada por larga también cuenta.
        let paced = match frame {
            Ok(Frame::Line) => session.pace(chat, line, Instant::now()),
            Ok(Frame::TooLong) => session.pace(chat, b"", Instant::now()),
            _ => None,
        };
        if let Some(wait) = paced {
            // Frenar al que envía de más (`--max-lines-per-sec`): este hilo
            // no lee ni atiende nada durante `wait`, así que el búfer del
            // kernel se llena y TCP detiene al emisor. Antes, lo ya atendido
            // sale (la tanda se cierra): los demás no esperan por él, y las
            // entregas *a* este cliente siguen por su cola.
            drop(batch);
            thread::sleep(wait);
            batch = WriteBatch::begin();
        }
        let flow = match frame {
            Ok(Frame::Line) => session.handle(chat, line),
            Ok(Frame::TooLong) => session.too_long(chat),
            Ok(Frame::Eof) | Err(_) => Flow::Close,
        };
        // Seguir solo si otra línea completa ya está en el búfer:
        // `read_frame` no se bloqueará.
        if flow == Flow::Close || !reader.buffer().contains(&b'\n') {
            // Las transferencias de la tanda esperan aquí un solo
            // `fdatasync`, antes de volver a esperar al socket.
            if flow == Flow::Continue {
                session.settle(chat);
            }
            drop(batch);
            return flow;
        }
        frame = read_frame(reader, line, MAX_LINE_BYTES);
    }
}

/// Un lector con búfer que cambia de tamaño según el tráfico.
///
/// Con un búfer fijo hay que elegir: grande (8 KiB) hace que un cliente que
/// envía ráfagas se lea con pocas llamadas y que sus líneas se atiendan en
/// tandas grandes (las entregas se juntan, ver `outbox`); chico ahorra
/// memoria en los miles de clientes que esperan quietos en `read` (medido
/// con 10.000 clientes: 8 KiB por cliente eran decenas de MiB
/// de RSS). Este lector espera con `small` bytes; si una lectura llena el
/// búfer (llegan datos más rápido de lo que se leen), el próximo es de
/// `large`; y al consumirse todo tras una lectura que no lo llenó (el
/// socket quedó vacío, lo siguiente es esperar), vuelve a `small`.
pub struct ElasticReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Lo ya consumido de `buf`.
    pos: usize,
    /// Lo válido de `buf`.
    filled: usize,
    small: usize,
    large: usize,
}

impl<R: Read> ElasticReader<R> {
    /// Un lector sobre `inner` con búfer de `small` bytes en espera y hasta
    /// `large` bytes en ráfagas (`small` ≥ 1, `large` ≥ `small`).
    pub fn new(inner: R, small: usize, large: usize) -> ElasticReader<R> {
        let small = small.max(1);
        ElasticReader {
            inner,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            small,
            large: large.max(small),
        }
    }

    /// Los bytes leídos y aún no consumidos (sin leer del socket).
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// El tamaño actual del búfer, en bytes.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.len()
    }
}

impl<R: Read> Read for ElasticReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for ElasticReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            // La lectura anterior llenó el búfer: viene una ráfaga. Si no,
            // el socket quedó vacío y lo que sigue es esperar: con poco.
            let burst = self.filled == self.buf.len() && self.filled > 0;
            let size = if burst { self.large } else { self.small };
            if self.buf.len() != size {
                // Un búfer nuevo en vez de `resize`: al achicar, `Vec` no
                // devuelve la memoria.
                self.buf = vec![0; size];
            }
            self.pos = 0;
            self.filled = 0;
            self.filled = self.inner.read(&mut self.buf)?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Un `Read` que entrega como mucho `chunk` bytes por llamada, como un
    /// socket que recibe de a poco.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(out.len()).min(self.chunk);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_elastic_reader_grows_in_a_burst_and_shrinks_when_idle() {
        let mut text = Vec::new();
        for i in 0..500 {
            text.extend_from_slice(format!("línea {i}\n").as_bytes());
        }
        // Ráfaga: el socket tiene más de lo que cabe.
        let mut reader = ElasticReader::new(&text[..], 16, 256);
        let mut line = Vec::new();
        assert_eq!(
            read_frame(&mut reader, &mut line, 100).expect("lee"),
            Frame::Line
        );
        assert_eq!(reader.capacity(), 16);
        let mut largest = 0;
        for i in 1..500 {
            assert_eq!(
                read_frame(&mut reader, &mut line, 100).expect("lee"),
                Frame::Line
            );
            assert_eq!(line, format!("línea {i}").as_bytes());
            largest = largest.max(reader.capacity());
        }
        assert_eq!(largest, 256, "en la ráfaga crece");
        assert_eq!(
            read_frame(&mut reader, &mut line, 100).expect("lee"),
            Frame::Eof
        );
        assert_eq!(reader.capacity(), 16, "al vaciarse espera con poco");
        // De a poco (lecturas que no llenan el búfer): nunca crece.
        let mut reader = ElasticReader::new(
            Trickle {
                data: &text,
                chunk: 5,
            },
            16,
            256,
        );
        for i in 0..500 {
            assert_eq!(
                read_frame(&mut reader, &mut line, 100).expect("lee"),
                Frame::Line
            );
            assert_eq!(line, format!("línea {i}").as_bytes());
            assert_eq!(reader.capacity(), 16);
        }
    }

    #[test]
    fn the_elastic_reader_frames_like_any_other() {
        let input = "hola\r\nñandú y acentos: á\n\nfin\n".as_bytes();
        for small in 1..8 {
            let mut reader = ElasticReader::new(input, small, 3 * small);
            let mut line = Vec::new();
            let mut lines = Vec::new();
            while read_frame(&mut reader, &mut line, 100).expect("lee") == Frame::Line {
                lines.push(String::from_utf8(line.clone()).expect("utf8"));
            }
            assert_eq!(lines, ["hola", "ñandú y acentos: á", "", "fin"]);
        }
    }
}
