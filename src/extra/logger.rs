//! La consola del programa completo: las líneas salen por un hilo escritor
//! propio con una cola acotada, y ningún hilo de cliente espera nunca a la
//! terminal.
//!
//! Por qué: escribir en la salida estándar puede bloquearse. Si la salida es
//! una tubería que nadie lee (`servidor | algo-que-no-lee`) o alguien pulsa
//! Ctrl-S en la terminal, el `write` espera para siempre en cuanto se llena
//! el búfer del kernel (64 KiB en una tubería de Linux). Si eso pasara en el
//! hilo de un cliente, con un candado tomado o no, ese cliente dejaría de
//! recibir respuestas, y tras él todos los demás. Aquí, quien
//! registra una línea solo la pone en la cola (`try_send`, que nunca
//! espera); si la cola está llena, la línea se descarta y se cuenta, y el
//! escritor avisa `[SERVER] N console lines dropped` cuando se pone al día.
//! Se enchufa como la [`Console`] del servidor y del eco.

use crate::curso::console::Console;
use crate::curso::servidor::ServerError;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Líneas que caben en la cola del escritor. Una línea de chat mide como
/// mucho 4 KiB, así que la cola ocupa a lo sumo unos 4 MiB.
pub const QUEUE_LINES: usize = 1024;

/// Cuánto junta el hilo escritor tras cada tanda: 1 ms. En una ráfaga de
/// 300.000 líneas por segundo llegan unas 300, lejos de las
/// [`QUEUE_LINES`] de la cola; una línea suelta sale a lo sumo 1 ms más
/// tarde.
pub const GATHER: Duration = Duration::from_millis(1);

/// La consola asíncrona: una cola acotada y un hilo que la vacía en un
/// `Write` (la salida estándar en el servidor).
pub struct Logger {
    queue: SyncSender<String>,
    shared: Arc<Shared>,
}

/// Lo que el escritor y quienes registran comparten.
struct Shared {
    /// Líneas descartadas desde el último aviso.
    dropped: AtomicU64,
    /// Líneas aceptadas en la cola (para [`Logger::flush`]).
    queued: AtomicU64,
    /// Líneas ya escritas por el escritor, con su aviso.
    written: Mutex<u64>,
    progress: Condvar,
}

impl Logger {
    /// Arranca el hilo escritor sobre `out`, con lugar para `capacity`
    /// líneas en la cola. Error: no se pudo crear el hilo.
    pub fn start(out: impl Write + Send + 'static, capacity: usize) -> io::Result<Logger> {
        let (queue, lines) = sync_channel(capacity);
        let shared = Arc::new(Shared {
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            written: Mutex::new(0),
            progress: Condvar::new(),
        });
        let writer = Arc::clone(&shared);
        thread::Builder::new()
            .name("console".into())
            .spawn(move || writer.write_all(lines, out))?;
        Ok(Logger { queue, shared })
    }

    /// La consola del servidor: la salida estándar, con la cola de
    /// [`QUEUE_LINES`] líneas. Error: no se pudo crear el hilo.
    pub fn stdout() -> io::Result<Logger> {
        Logger::start(io::stdout(), QUEUE_LINES)
    }
}

/// La consola del programa completo: la salida estándar, escrita por su
/// propio hilo. Si nadie la lee o se detiene (Ctrl-S, una tubería que nadie
/// vacía), las líneas de más se descartan y se cuentan, y el chat sigue.
/// Error: no se pudo crear el hilo escritor.
/// Devuelve también el [`Logger`], para vaciarlo antes de terminar el
/// proceso ([`Logger::flush`]).
pub fn stdout_console() -> Result<(Console, Arc<Logger>), ServerError> {
    let logger = Arc::new(Logger::stdout().map_err(ServerError::Thread)?);
    let writes = Arc::clone(&logger);
    Ok((Box::new(move |line: &str| writes.line(line)), logger))
}

impl Shared {
    /// El bucle del hilo escritor: escribe cada línea y, cada vez que la
    /// cola queda vacía, el aviso de las descartadas (si hubo) y lo junta
    /// sale de una vez. Termina cuando se suelta el [`Logger`]. Un error de
    /// escritura (la tubería se cerró) pierde la línea, pero el servidor
    /// sigue.
    ///
    /// Las líneas se juntan en un búfer propio: la salida estándar de Rust
    /// hace un `write` por línea, y una ráfaga de 5000 mensajes eran 5000
    /// llamadas al sistema en este hilo (3 a 6 ms de CPU, medidos con
    /// `schedstat`, en una máquina de dos núcleos que la ráfaga ya ocupa).
    fn write_all(&self, lines: Receiver<String>, out: impl Write) {
        let mut out = io::BufWriter::new(out);
        while let Ok(first) = lines.recv() {
            let mut line = Some(first);
            let mut count = 0;
            while let Some(text) = line.take() {
                let _ = writeln!(out, "{text}");
                count += 1;
                match lines.try_recv() {
                    Ok(next) => line = Some(next),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
                }
            }
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let _ = writeln!(out, "[SERVER] {dropped} console lines dropped");
            }
            let _ = out.flush();
            *crate::curso::sync::lock(&self.written) += count;
            self.progress.notify_all();
            // Tras escribir, el hilo junta un momento antes de volver a
            // esperar: si esperara enseguida, en una ráfaga cada línea lo
            // despertaría (una llamada al sistema para quien la pone en la
            // cola, y un cambio de contexto), y en una máquina de dos
            // núcleos eso le quita al chat tanto como escribir.
            thread::sleep(GATHER);
        }
    }
}

impl Logger {
    /// Pone `line` (sin `\n`) en la cola, sin esperar nunca: si la cola
    /// está llena, la línea se descarta y se cuenta.
    pub fn line(&self, line: &str) {
        match self.queue.try_send(line.to_string()) {
            Ok(()) => {
                self.shared.queued.fetch_add(1, Ordering::Relaxed);
            }
            // Cola llena (la consola no da abasto) o escritor terminado:
            // se cuenta y se sigue, sin esperar.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Espera, como mucho `within`, a que lo registrado hasta ahora esté
    /// escrito (antes de terminar el proceso).
    pub fn flush(&self, within: Duration) {
        let target = self.shared.queued.load(Ordering::Relaxed);
        let deadline = Instant::now() + within;
        let mut written = crate::curso::sync::lock(&self.shared.written);
        while *written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            // Envenenado o no, como `curso::sync::lock`.
            let waited = self.shared.progress.wait_timeout(written, left);
            written = waited.unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::{Sender, channel};

    /// Una salida que no acepta nada hasta que la prueba abre `gate`, y
    /// después manda cada escritura por `seen`. `stuck` dice que una
    /// escritura ya espera la compuerta.
    struct Stalled {
        gate: Arc<(Mutex<bool>, Condvar)>,
        seen: Sender<Vec<u8>>,
        stuck: Arc<AtomicBool>,
    }

    impl Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, opened) = &*self.gate;
            let mut open = open.lock().expect("gate");
            while !*open {
                self.stuck.store(true, Ordering::SeqCst);
                open = opened.wait(open).expect("gate");
            }
            let _ = self.seen.send(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_never_blocks_and_the_dropped_lines_are_counted() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (seen, writes) = channel();
        let stuck = Arc::new(AtomicBool::new(false));
        let output = Stalled {
            gate: Arc::clone(&gate),
            seen,
            stuck: Arc::clone(&stuck),
        };
        let logger = Logger::start(output, 4).expect("logger");
        // El escritor toma la primera y se queda esperando a la salida. Se
        // espera a que esté ahí: si no, según cuándo corra, juntaría en su
        // búfer algunas más antes de trabarse, y la cuenta de abajo
        // dependería del momento.
        logger.line("line 0");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !stuck.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "el escritor nunca escribió");
            thread::yield_now();
        }
        // Caben 4 más en la cola, y las demás se descartan sin esperar.
        let started = Instant::now();
        for i in 1..1000 {
            logger.line(&format!("line {i}"));
        }
        assert!(started.elapsed() < Duration::from_secs(5), "nunca espera");
        *gate.0.lock().expect("gate") = true;
        gate.1.notify_all();
        logger.flush(Duration::from_secs(20));
        drop(logger);
        let text: String = writes
            .iter()
            .map(|w| String::from_utf8(w).expect("utf8"))
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        let expected = [
            "line 0",
            "line 1",
            "line 2",
            "line 3",
            "line 4",
            "[SERVER] 995 console lines dropped",
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn lines_come_out_in_order_and_flush_waits_for_them() {
        let (seen, writes) = channel();
        let gate = Arc::new((Mutex::new(true), Condvar::new()));
        let stuck = Arc::new(AtomicBool::new(false));
        let output = Stalled { gate, seen, stuck };
        let logger = Logger::start(output, QUEUE_LINES).expect("logger");
        for i in 0..100 {
            logger.line(&format!("{i}"));
        }
        logger.flush(Duration::from_secs(20));
        let text: String = writes
            .try_iter()
            .map(|w| String::from_utf8(w).expect("utf8"))
            .collect();
        let expected: String = (0..100).map(|i| format!("{i}\n")).collect();
        assert_eq!(text, expected);
    }
}
