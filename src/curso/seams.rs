//! Los puntos de enchufe del servidor: lo que el curso pregunta en ciertos
//! momentos y que el programa completo responde de otra manera.
//!
//! El curso escribe cada pregunta como un *trait* pequeño, con una
//! respuesta por omisión que es la del curso, la más simple que funciona.
//! `extra/` trae las otras respuestas (los límites, las estadísticas, las
//! colas rápidas...) y el binario las pasa al servidor en un [`Plugins`].
//! Así el curso se lee sin ellas, y nada en `curso/` nombra `extra/`: el
//! enchufe es lo único que los une. No es dueño de ninguna respuesta que
//! no sea la del curso.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Un socket TCP recién aceptado, antes de que su hilo empiece a leer.
///
/// Es un enchufe porque lo que el curso necesita es nada: un socket
/// aceptado ya sirve. El programa completo ajusta opciones del kernel que
/// el curso no enseña (*keepalive*, el búfer de envío).
pub trait StreamSetup: Send + Sync {
    /// Prepara `stream`. Error: el de la llamada al sistema que falló; la
    /// conexión no se atiende y el error va a la consola.
    fn prepare(&self, stream: &TcpStream) -> io::Result<()>;
}

/// La respuesta del curso: el socket queda como lo dio `accept`.
pub struct PlainStreams;

impl StreamSetup for PlainStreams {
    fn prepare(&self, _stream: &TcpStream) -> io::Result<()> {
        Ok(())
    }
}

/// Lo que pasa en el servidor, para quien quiera contarlo: cada método se
/// llama en el hilo donde ocurre, así que debe ser barato y no bloquear.
///
/// Es un enchufe porque el curso no cuenta nada: lo que cuenta el programa
/// completo son las cifras de `:stats`. Cada método tiene la respuesta del
/// curso escrita (no hacer nada), así que quien se enchufa escribe solo
/// los que le importan.
pub trait Observer: Send + Sync {
    /// Llegó una línea de un cliente, por TCP o por UDP.
    fn line_in(&self) {}
    /// Se descartó un datagrama por el límite de líneas por segundo.
    fn datagram_dropped(&self) {}
    /// Un hilo esperó `waited` para tomar el candado del libro de cuentas.
    fn ledger_waited(&self, _waited: Duration) {}
    /// Un `fdatasync` dejó en disco `entries` entradas del diario.
    fn journal_synced(&self, _entries: u64) {}
    /// Una vez por segundo, desde el hilo `stats` del servidor, a la hora
    /// `now` (para tasas por segundo).
    fn tick(&self, _now: Instant) {}
    /// Las líneas de `:stats` (sin el prefijo `Stats: `) a la hora `now`;
    /// `room` mide la sala, y cuesta un candado por cliente, así que se
    /// llama solo si hace falta. `None`: no hay estadísticas, y `:stats` es
    /// un comando desconocido.
    fn report(&self, _now: Instant, _room: &dyn Fn() -> RoomFigures) -> Option<Vec<String>> {
        None
    }
}

/// La respuesta del curso: no se cuenta nada.
pub struct Unobserved;

impl Observer for Unobserved {}

/// Lo que la sala dice de sí misma, para [`Observer::report`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomFigures {
    /// Usuarios con conexión TCP.
    pub tcp_users: u64,
    /// Usuarios solo por UDP.
    pub udp_users: u64,
    /// La cola de salida más larga, en bytes.
    pub largest_queue_bytes: u64,
    /// Clientes con algo en su cola de salida.
    pub backlogged_clients: u64,
    /// Bytes en todas las colas de salida.
    pub queued_bytes: u64,
}

/// Todas las respuestas que recibe el servidor. [`Plugins::default`] son
/// las del curso.
pub struct Plugins {
    /// Cómo se prepara cada socket aceptado.
    pub stream_setup: Box<dyn StreamSetup>,
    /// Quién cuenta lo que pasa.
    pub observer: Arc<dyn Observer>,
}

impl Default for Plugins {
    fn default() -> Plugins {
        Plugins {
            stream_setup: Box::new(PlainStreams),
            observer: Arc::new(Unobserved),
        }
    }
}
