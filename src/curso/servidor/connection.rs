//! El hilo de un cliente TCP (enunciado 003, punto 6): lee líneas, se las
//! pasa a su [`Session`] y, al irse, se despide y libera su lugar. Las
//! reglas del chat no están aquí, sino en `session`; aquí solo se lee el
//! socket.

use crate::curso::framing::{Frame, read_frame};
use crate::curso::protocolo::MAX_LINE_BYTES;
use crate::curso::seams::{Output, Place};
use crate::curso::session::{Chat, Flow, Session};
use std::io::BufReader;
use std::net::{IpAddr, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Cuánto se espera, como mucho, para entregar la despedida al cerrar.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// Cómo lee el hilo de un cliente TCP las líneas de su socket.
///
/// Es un enchufe porque el curso lee con un `BufReader` y atiende cada
/// línea apenas llega ([`LineByLine`]). El programa completo lee con un
/// búfer que crece solo durante una ráfaga y atiende juntas las líneas que
/// llegaron juntas: un `write` por destinatario y una espera al disco por
/// tanda, no por línea.
pub trait ReadLoop: Send + Sync {
    /// Lee `stream` y le pasa cada línea a `session` hasta que la conexión
    /// se cierra o la sesión termina (`Flow::Close`). Antes de cada línea
    /// pregunta [`Session::pace`] (y espera lo que diga), y después de
    /// cada una, o de cada tanda, llama a [`Session::settle`].
    fn run(&self, stream: &TcpStream, chat: &Chat, session: &mut Session);
}

/// La lectura del curso: una línea, su respuesta, la siguiente.
pub struct LineByLine;

impl ReadLoop for LineByLine {
    fn run(&self, stream: &TcpStream, chat: &Chat, session: &mut Session) {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            // Se bloquea hasta tener una línea entera (o el fin).
            let frame = read_frame(&mut reader, &mut line, MAX_LINE_BYTES);
            if matches!(frame, Ok(Frame::Eof) | Err(_)) {
                return;
            }
            // En el curso nunca hay que esperar; ver `Place::before_line`.
            if let Some(wait) = session.pace(chat, &line, Instant::now()) {
                thread::sleep(wait);
            }
            let flow = match frame {
                Ok(Frame::TooLong) => session.too_long(chat),
                _ => session.handle(chat, &line),
            };
            if flow == Flow::Close {
                return;
            }
            // Una `:t` espera aquí su recibo: su respuesta sale cuando su
            // línea del diario ya está en disco.
            session.settle(chat);
        }
    }
}

/// Lo que necesita el hilo de un cliente.
pub(super) struct Client {
    pub(super) chat: Arc<Chat>,
    pub(super) stream: Arc<TcpStream>,
    pub(super) output: Arc<dyn Output>,
    /// Cómo se leen sus líneas.
    pub(super) read_loop: Arc<dyn ReadLoop>,
    /// Cómo se ve el cliente en la consola: `127.0.0.1:51234 (TCP)`.
    pub(super) peer: String,
    /// Su dirección IP, para el límite de contraseñas fallidas.
    pub(super) ip: IpAddr,
}

impl Client {
    /// El hilo de un cliente: saluda, lee líneas hasta `:q` o el fin de la
    /// conexión, y al salir (aun si algo entró en pánico) cierra la sesión,
    /// para que la cuenta no quede "conectada" para siempre. `place` es su
    /// lugar entre las conexiones admitidas ([`Place`]), que se libera antes
    /// de anunciar el cierre: quien ve `Connection closed` y se conecta
    /// encuentra el lugar.
    pub(super) fn serve(self, place: Box<dyn Place>) {
        let chat = &self.chat;
        chat.log(&format!("Connection from {}", self.peer));
        let (output, peer) = (Arc::clone(&self.output), self.peer.clone());
        let mut session = Session::start(chat, output, peer, self.ip, place);
        let talk = || self.read_loop.run(&self.stream, chat, &mut session);
        let outcome = panic::catch_unwind(AssertUnwindSafe(talk));
        if outcome.is_err() {
            chat.log(&format!(
                "internal error while serving {}; connection closed",
                self.peer
            ));
        }
        let place = session.end(chat);
        self.output.finish(GOODBYE_GRACE);
        // Primero el lugar, después el anuncio (si no, un cliente que se
        // conecta al ver el anuncio podía encontrar el servidor "lleno").
        // Si algo de arriba entrara en pánico fuera del `catch_unwind`, el
        // `Drop` de `place` lo libera igual.
        drop(place);
        chat.log(&format!("Connection closed: {}", self.peer));
    }
}
