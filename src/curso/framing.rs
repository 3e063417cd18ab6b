//! El encuadre (*framing*) de un flujo de bytes en líneas: TCP entrega bytes,
//! no mensajes, así que una lectura puede traer media línea o dos líneas
//! juntas. Este módulo corta en `\n`, acepta `\r\n` y pone un tope al largo
//! de una línea sin guardarla entera en memoria.
//!
//! Funciona sobre cualquier [`BufRead`] (el `BufReader` de un socket, o un
//! arreglo de bytes en las pruebas, sin sockets). No sabe qué significa una
//! línea: eso es de `protocolo`.

use std::io::{self, BufRead};

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
}
