//! La salida de cada cliente TCP en el curso: un canal acotado de líneas
//! (`std::sync::mpsc::sync_channel`) y un hilo escritor por cliente, el
//! único que escribe en su socket.
//!
//! El problema que resuelve: si el hilo de alice escribiera directamente en
//! el socket de bob y bob dejara de leer, el `write` se bloquearía cuando se
//! llenara el búfer del kernel, y alice (y todo el que le hable a bob)
//! quedaría colgado. Aquí alice solo deja la línea en el canal de bob
//! (`try_send`, que nunca espera); el que espera al socket es el hilo
//! escritor de bob. Si bob no lee, su canal se llena y se lo desconecta:
//! la memoria por cliente tiene tope, y nadie espera por él.
//!
//! No sabe de protocolo ni de usuarios: mueve líneas hacia un socket. El
//! programa completo enchufa otra salida (ver [`crate::curso::seams`]).

use crate::curso::seams::{Output, Outputs};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Líneas que caben en el canal de un cliente antes de desconectarlo: con
/// líneas de a lo sumo 1 KiB, menos de 1 MiB por cliente.
pub const QUEUE_LINES: usize = 1024;

/// La salida del curso para cada cliente que se conecta: un [`Channel`] de
/// `lines` líneas.
pub struct Channels {
    /// Líneas que caben en cada canal.
    pub lines: usize,
}

impl Default for Channels {
    fn default() -> Channels {
        Channels { lines: QUEUE_LINES }
    }
}

impl Outputs for Channels {
    fn open(&self, stream: Arc<TcpStream>) -> io::Result<Arc<dyn Output>> {
        Ok(Arc::new(Channel::start(stream, self.lines)?))
    }
}

/// La salida de un cliente: el extremo que envía del canal, y lo necesario
/// para cortar la conexión.
pub struct Channel {
    /// `None` desde la despedida o la desconexión. El candado solo protege
    /// ese cambio: sin él, una despedida podía soltar el canal mientras otro
    /// hilo lo usaba. Se toma solo lo que dura un `try_send`, que no espera.
    queue: Mutex<Option<SyncSender<Vec<u8>>>>,
    /// Se cierra cuando termina el hilo escritor (para esperarlo con plazo).
    writer_done: Mutex<Option<Receiver<()>>>,
    stream: Arc<TcpStream>,
    closed: Arc<AtomicBool>,
}

impl Channel {
    /// Crea el canal de `lines` líneas hacia `stream` y su hilo escritor.
    /// Error: no se pudo crear el hilo.
    pub fn start(stream: Arc<TcpStream>, lines: usize) -> io::Result<Channel> {
        let (queue, receiver) = mpsc::sync_channel::<Vec<u8>>(lines);
        let (done, writer_done) = mpsc::channel::<()>();
        let closed = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            stream: Arc::clone(&stream),
            closed: Arc::clone(&closed),
        };
        let name = match stream.peer_addr() {
            Ok(addr) => format!("writer {addr}"),
            Err(_) => "writer".to_string(),
        };
        thread::Builder::new().name(name).spawn(move || {
            writer.run(receiver);
            // Soltar `done` avisa a `finish` que ya no queda nada por salir.
            drop(done);
        })?;
        Ok(Channel {
            queue: Mutex::new(Some(queue)),
            writer_done: Mutex::new(Some(writer_done)),
            stream,
            closed,
        })
    }

    /// Deja de aceptar líneas y devuelve si aceptaba. Soltar el extremo que
    /// envía termina el bucle del escritor cuando vacía el canal.
    fn stop_accepting(&self) -> bool {
        crate::curso::sync::lock(&self.queue).take().is_some()
    }

    /// Corta la conexión: el `write` en curso del escritor falla y su hilo
    /// termina; el hilo lector ve el fin de la conexión.
    fn cut(&self) {
        self.stop_accepting();
        self.closed.store(true, Ordering::Release);
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl Output for Channel {
    fn send(&self, line: &[u8]) {
        let full = match &*crate::curso::sync::lock(&self.queue) {
            Some(queue) => matches!(queue.try_send(line.to_vec()), Err(TrySendError::Full(_))),
            None => false,
        };
        // Fuera del candado: cortar es una llamada al sistema.
        if full {
            self.cut();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn finish(&self, grace: Duration) {
        let done = crate::curso::sync::lock(&self.writer_done).take();
        if let (true, Some(done)) = (self.stop_accepting(), done) {
            // Vuelve cuando el escritor terminó (`Disconnected`) o al vencer
            // el plazo: en los dos casos, a cortar.
            let _ = done.recv_timeout(grace);
        }
        self.cut();
    }
}

/// Lo que usa el hilo escritor.
struct Writer {
    stream: Arc<TcpStream>,
    closed: Arc<AtomicBool>,
}

impl Writer {
    /// Escribe cada línea del canal, en orden, hasta que se suelte el
    /// extremo que envía o el socket falle. Es el único hilo que escribe
    /// en este socket, así que las líneas nunca se entremezclan.
    fn run(&self, lines: Receiver<Vec<u8>>) {
        for line in lines {
            // `Write` está implementado para `&TcpStream`: se escribe por la
            // referencia compartida con el hilo lector.
            if (&*self.stream).write_all(&line).is_err() {
                self.closed.store(true, Ordering::Release);
                let _ = self.stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Una salida en memoria, para probar `session` sin sockets.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Memory {
    written: Mutex<Vec<u8>>,
    closed: AtomicBool,
}

#[cfg(test)]
impl Memory {
    /// Todo lo recibido hasta ahora.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&crate::curso::sync::lock(&self.written)).into_owned()
    }
}

#[cfg(test)]
impl Output for Memory {
    fn send(&self, line: &[u8]) {
        if !self.is_closed() {
            crate::curso::sync::lock(&self.written).extend_from_slice(line);
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn finish(&self, _grace: Duration) {
        self.closed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;
    use std::time::Instant;

    /// Un par de sockets conectados: el del servidor y el del cliente.
    fn pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (Arc::new(server), client)
    }

    #[test]
    fn lines_arrive_in_order_and_finish_closes_after_them() {
        let (server, client) = pair();
        let output = Channel::start(server, 8).expect("start");
        output.send(b"uno\n");
        output.send(b"dos\n");
        output.finish(Duration::from_secs(60));
        assert!(output.is_closed());
        // Después de la despedida no sale nada más.
        output.send(b"tres\n");
        let mut text = String::new();
        BufReader::new(client)
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "uno\ndos\n");
    }

    #[test]
    fn a_client_that_never_reads_is_cut_and_the_sender_never_waits() {
        let (server, client) = pair();
        let output = Channel::start(server, 4).expect("start");
        let line = vec![b'x'; 1023];
        let started = Instant::now();
        // Mucho más de lo que caben en el canal y en los búferes del kernel
        // juntos: si `send` esperara al socket, esto no terminaría nunca.
        let mut sent = 0;
        while !output.is_closed() && sent < 1_000_000 {
            output.send(&line);
            sent += 1;
        }
        assert!(output.is_closed(), "tras {sent} líneas sigue abierta");
        // El cliente ve el fin de la conexión (puede leer antes lo que ya
        // estaba en camino).
        let mut reader = BufReader::new(client);
        let mut rest = Vec::new();
        let _ = reader.read_until(0, &mut rest);
        eprintln!("cortado tras {sent} líneas en {:?}", started.elapsed());
    }
}
