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

/// Todas las respuestas que recibe el servidor. [`Plugins::default`] son
/// las del curso.
pub struct Plugins {
    /// Cómo se prepara cada socket aceptado.
    pub stream_setup: Box<dyn StreamSetup>,
}

impl Default for Plugins {
    fn default() -> Plugins {
        Plugins {
            stream_setup: Box::new(PlainStreams),
        }
    }
}
