//! El encuadre (*framing*) de un flujo de bytes en líneas: TCP entrega bytes,
//! no mensajes, así que una lectura puede traer media línea o dos líneas
//! juntas. Este módulo corta en `\n`, acepta `\r\n` y pone un tope al largo
//! de una línea sin guardarla entera en memoria.
//!
//! Funciona sobre cualquier [`BufRead`], así que se prueba con arreglos de
//! bytes, sin sockets. [`ElasticReader`] es el `BufRead` del servidor: un
//! búfer que crece durante una ráfaga y se achica al quedar en espera. No sabe qué significa una línea: eso es de `protocolo`.

use std::io::{self, BufRead, Read};

/// Qué trajo una llamada a [`read_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Una línea completa, ya en el búfer (sin `\n` ni `\r` final).
    Line,
    /// Una línea de más de `max` bytes: se leyó hasta su `\n` y se descartó
    /// sin guardarla. El búfer queda vacío.
    TooLong,
    /// Fin del flujo (el otro extremo cerró). Una línea a medias, sin `\n`,
    /// se descarta: quien se desconecta a mitad de frase no la envió.
    Eof,
}

/// Lee la siguiente línea de `reader` en `line` (que se vacía primero).
///
/// `max` es el largo máximo en bytes de la línea sin su terminador. Como
/// mucho guarda `max + 1` bytes aunque la línea mida megabytes: el resto se
/// consume y se descarta. Errores: los de E/S de `reader` (salvo
/// `Interrupted`, que se reintenta).
pub fn read_frame<R: BufRead>(reader: &mut R, line: &mut Vec<u8>, max: usize) -> io::Result<Frame> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            line.clear();
            return Ok(Frame::Eof);
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        // Se admite un byte más que `max` por el `\r` de un `\r\n`.
        if !too_long && line.len() + chunk.len() <= max + 1 {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let used = chunk.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if too_long || line.len() > max {
        line.clear();
        return Ok(Frame::TooLong);
    }
    Ok(Frame::Line)
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

    /// El lector de abajo, para ajustarlo entre lecturas.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// El tamaño actual del búfer, en bytes (para las pruebas).
    pub fn capacity(&self) -> usize {
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
    use std::io::BufReader;

    /// Lee todos los marcos de `input` con un búfer de `capacity` bytes, para
    /// simular lecturas que cortan las líneas en cualquier punto.
    fn frames(input: &[u8], capacity: usize, max: usize) -> Vec<(Frame, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(capacity, input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        loop {
            let frame = read_frame(&mut reader, &mut line, max).expect("lectura en memoria");
            out.push((frame, line.clone()));
            if frame == Frame::Eof {
                return out;
            }
        }
    }

    #[test]
    fn splits_lines_whatever_the_read_size() {
        let input = "hola\r\nñandú y acentos: á\n\nfin\n".as_bytes();
        for capacity in 1..=input.len() + 1 {
            let got = frames(input, capacity, 100);
            let lines: Vec<_> = got.iter().map(|(_, l)| l.as_slice()).collect();
            assert_eq!(
                lines,
                [
                    "hola".as_bytes(),
                    "ñandú y acentos: á".as_bytes(),
                    b"",
                    b"fin",
                    b""
                ],
                "capacidad {capacity}"
            );
            assert_eq!(got.last().map(|(f, _)| *f), Some(Frame::Eof));
        }
    }

    #[test]
    fn long_lines_are_discarded_and_reading_goes_on() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nok\n");
        for capacity in [1, 7, 64, 8192] {
            let got = frames(&input, capacity, 4096);
            assert_eq!(got[0], (Frame::TooLong, vec![]));
            assert_eq!(got[1], (Frame::Line, b"ok".to_vec()));
            assert_eq!(got[2].0, Frame::Eof);
        }
    }

    #[test]
    fn the_limit_is_exact_and_ignores_the_carriage_return() {
        let at_limit = [vec![b'a'; 8], b"\r\n".to_vec()].concat();
        assert_eq!(frames(&at_limit, 3, 8)[0], (Frame::Line, vec![b'a'; 8]));
        let over = [vec![b'a'; 9], b"\n".to_vec()].concat();
        assert_eq!(frames(&over, 3, 8)[0].0, Frame::TooLong);
        let over_with_cr = [vec![b'a'; 9], b"\r\n".to_vec()].concat();
        assert_eq!(frames(&over_with_cr, 3, 8)[0].0, Frame::TooLong);
    }

    #[test]
    fn a_half_line_at_the_end_is_dropped() {
        assert_eq!(frames(b"medio", 2, 100), vec![(Frame::Eof, vec![])]);
        assert_eq!(frames(b"", 2, 100), vec![(Frame::Eof, vec![])]);
    }

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
