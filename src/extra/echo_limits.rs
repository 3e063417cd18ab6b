//! Los límites del eco en el programa completo, enchufados como su
//! [`Serve`]: un hilo por conexión cuesta memoria y un lugar en la tabla de
//! hilos, así que la conexión que pasa `--echo-idle-secs` sin una línea
//! completa se cierra (un byte cada dos segundos no retiene un hilo para
//! siempre), y la consola muestra las primeras [`SHOWN_PER_CONNECTION`]
//! lecturas y líneas de cada conexión y resume el resto al cerrarla (un
//! flujo de 7 MB no escribe 350.000 líneas). Los topes de conexiones son de
//! [`crate::extra::registry::EchoAdmission`]. Lo demás es el eco del curso.

use crate::curso::console::Console;
use crate::curso::echo::{ECHO_BUFFER, MAX_ECHO_LINE_BYTES, Reads, Serve, echoed};
use crate::curso::framing::{Frame, read_frame};
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cuántas lecturas y cuántas líneas de cada conexión se muestran en la
/// consola; las siguientes se cuentan y se resumen al cerrar.
pub const SHOWN_PER_CONNECTION: u64 = 50;

/// El eco con sus límites: `idle` (`None`: sin plazo) es cuánto puede pasar
/// sin una línea completa.
pub fn serve_with(idle: Option<Duration>) -> Serve {
    Arc::new(move |stream, peer, console| serve(stream, peer, console, idle))
}

/// Las lecturas del eco del curso, con el plazo y la cuenta: las primeras
/// [`SHOWN_PER_CONNECTION`] se muestran, las demás solo se cuentan. Con
/// `idle`, una lectura que llega pasado el plazo desde la última línea
/// completa (que [`serve`] anota en `last_line`) falla con `TimedOut`.
struct Limited<'a> {
    shown: Reads<'a>,
    reads: u64,
    bytes: u64,
    idle: Option<Duration>,
    last_line: Instant,
}

impl Read for Limited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(idle) = self.idle {
            let left = idle.saturating_sub(self.last_line.elapsed());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            // Lo que falta del plazo, no el plazo entero: si no, un byte
            // justo antes de vencer daría otro plazo completo.
            self.shown.stream.set_read_timeout(Some(left))?;
        }
        if self.reads >= SHOWN_PER_CONNECTION {
            let n = (&*self.shown.stream).read(buf)?;
            self.bytes += n as u64;
            self.reads += u64::from(n > 0);
            return Ok(n);
        }
        let n = self.shown.read(buf)?;
        self.bytes += n as u64;
        self.reads += u64::from(n > 0);
        Ok(n)
    }
}

fn serve(stream: TcpStream, peer: SocketAddr, console: &Console, idle: Option<Duration>) {
    console(&format!("Connection from {peer} (TCP)"));
    let limited = Limited {
        shown: Reads {
            stream: &stream,
            peer,
            console,
        },
        reads: 0,
        bytes: 0,
        idle,
        last_line: Instant::now(),
    };
    let mut reader = BufReader::with_capacity(ECHO_BUFFER, limited);
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
            console(&echoed(peer, &line));
        }
        if (&stream).write_all(&line).is_err() {
            break None;
        }
    };
    let limited = reader.get_ref();
    let hidden_reads = limited.reads.saturating_sub(SHOWN_PER_CONNECTION);
    let hidden_lines = lines.saturating_sub(SHOWN_PER_CONNECTION);
    if hidden_reads > 0 || hidden_lines > 0 {
        console(&format!(
            "{peer}: {hidden_reads} more reads and {hidden_lines} more lines not shown \
             ({} bytes in all)",
            limited.bytes
        ));
    }
    let timed_out = ended.is_some_and(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    });
    if let (true, Some(idle)) = (timed_out, idle) {
        console(&format!(
            "{peer}: no complete line in {} s, so the connection was closed",
            idle.as_secs()
        ));
    }
    console(&format!("Connection closed: {peer} (TCP)"));
}
