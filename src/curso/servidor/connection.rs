//! El hilo de un cliente TCP (enunciado 003, punto 6): lee líneas, se las
//! pasa a su [`Session`] en tandas y, al irse, se despide y libera su
//! lugar. Las reglas del chat no están aquí,
//! sino en `session`; aquí solo se lee el socket.

use crate::curso::framing::{ElasticReader, Frame, read_frame};
use crate::curso::protocolo::MAX_LINE_BYTES;
use crate::curso::seams::{Output, Outputs, Place};
use crate::curso::session::{Chat, Flow, Session};
use std::io;
use std::net::{IpAddr, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Cuánto se espera, como mucho, para entregar la despedida al cerrar.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// Tamaño del búfer de lectura de un cliente que espera, en bytes (ver
/// [`ElasticReader`]).
const READ_BUFFER_IDLE: usize = 512;

/// Tamaño del búfer de lectura de un cliente que envía una ráfaga, en
/// bytes: unas 80 líneas de 100 bytes por `read`, y por tanda.
const READ_BUFFER_BURST: usize = 8 * 1024;

/// Lo que necesita el hilo de un cliente.
pub(super) struct Client {
    pub(super) chat: Arc<Chat>,
    pub(super) stream: Arc<TcpStream>,
    pub(super) output: Arc<dyn Output>,
    /// De dónde vino `output`: abre las tandas de entregas.
    pub(super) outputs: Arc<dyn Outputs>,
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
        let talk = || self.talk(&mut session);
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

    /// Lee y atiende hasta que la sesión se cierre.
    fn talk(&self, session: &mut Session) {
        let stream: &TcpStream = &self.stream;
        let mut reader = ElasticReader::new(stream, READ_BUFFER_IDLE, READ_BUFFER_BURST);
        let mut line = Vec::new();
        loop {
            // Puede bloquearse esperando datos: aquí no hay tanda abierta.
            let frame = read_frame(&mut reader, &mut line, MAX_LINE_BYTES);
            if self.burst(session, &mut reader, &mut line, frame) == Flow::Close {
                return;
            }
        }
    }

    /// Atiende `frame` y todas las líneas que ya llegaron, en una tanda: sus
    /// entregas salen juntas, un `write` por destinatario.
    fn burst(
        &self,
        session: &mut Session,
        reader: &mut ElasticReader<&TcpStream>,
        line: &mut Vec<u8>,
        mut frame: io::Result<Frame>,
    ) -> Flow {
        let chat = &self.chat;
        let mut batch = self.outputs.batch();
        loop {
            // Una línea descartada por larga también cuenta.
            let paced = match frame {
                Ok(Frame::Line) => session.pace(chat, line, Instant::now()),
                Ok(Frame::TooLong) => session.pace(chat, b"", Instant::now()),
                _ => None,
            };
            if let Some(wait) = paced {
                // Frenar al que envía de más (`--max-lines-per-sec`): este
                // hilo no lee ni atiende nada durante `wait`, así que el búfer
                // del kernel se llena y TCP detiene al emisor. Antes, lo ya
                // atendido sale (la tanda se cierra): los demás no esperan por
                // él, y las entregas *a* este cliente siguen por su cola.
                drop(batch);
                thread::sleep(wait);
                batch = self.outputs.batch();
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
}
