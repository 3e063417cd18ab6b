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

use crate::curso::protocolo::Problem;
use std::io;
use std::net::{IpAddr, TcpStream};
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

/// Qué hacer con una línea que llega, según un límite de ritmo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Atenderla ya.
    Pass,
    /// (TCP) Atenderla después de esperar `wait` sin leer nada más; `warn`
    /// es `true` solo la primera vez de cada ráfaga, para que el aviso no
    /// sea otra inundación.
    Delay { wait: Duration, warn: bool },
    /// (UDP) Descartarla; `warn` es `true` solo para la primera descartada
    /// de cada ráfaga.
    Drop { warn: bool },
}

/// El ritmo propio de quien todavía no entró: una conexión TCP, o una
/// dirección UDP sin token. Lo crea [`Guard::anonymous_pacer`] y lo guarda
/// quien atiende a ese cliente.
pub trait Pacer: Send {
    /// Una línea por TCP a la hora `now`: pasa, o espera (nunca se
    /// descarta: quien envía de más por TCP solo va más lento).
    fn pace(&mut self, now: Instant) -> Verdict;
    /// Un datagrama a la hora `now`: pasa, o se descarta (por UDP no hay
    /// cómo frenar al emisor).
    fn check(&mut self, now: Instant) -> Verdict;
    /// Los datagramas descartados de una ráfaga que ya terminó, para
    /// anotarlos en la consola una vez.
    fn take_dropped(&mut self, now: Instant) -> Option<u32>;
    /// `true` si ya no recuerda nada que importe y se puede olvidar.
    fn is_calm(&self, now: Instant) -> bool;
}

/// Un intento de entrar, para [`Guard`].
pub struct Attempt<'a> {
    /// De dónde vino.
    pub ip: IpAddr,
    /// La dirección está probada: una conexión TCP (su saludo de tres vías
    /// lo prueba) o un datagrama que devolvió su cookie. La de un datagrama
    /// cualquiera la escribe el emisor, y no debe contar contra nadie.
    pub verified: bool,
    /// `:register` (si no, `:login`).
    pub register: bool,
    /// El nombre, como se escribió.
    pub name: &'a str,
    /// La clave de la cuenta ([`crate::curso::protocolo::name_key`]).
    pub account: &'a str,
}

/// Los límites contra el abuso: quién puede entrar y a qué ritmo se
/// atiende a cada uno.
///
/// Es un enchufe porque el curso no limita nada: cualquiera entra, prueba
/// contraseñas y escribe tan rápido como quiera. El programa completo
/// frena al que envía de más, bloquea al que adivina contraseñas y a la
/// dirección que crea cuentas en masa (`extra/abuse.rs`). Cada método
/// tiene escrita la respuesta del curso: dejar pasar.
pub trait Guard: Send + Sync {
    /// El límite de líneas por segundo que se anuncia, si hay uno.
    fn lines_per_sec(&self) -> Option<u32> {
        None
    }
    /// El ritmo propio de un cliente nuevo que todavía no entró, creado a
    /// la hora `now`; `None`: sin límite.
    fn anonymous_pacer(&self, _now: Instant) -> Option<Box<dyn Pacer>> {
        None
    }
    /// Una línea por TCP del usuario `name`, ya en la sala.
    fn pace_user(&self, _name: &str, _now: Instant) -> Verdict {
        Verdict::Pass
    }
    /// Un datagrama del usuario `name` (comparte el ritmo de su TCP).
    fn datagram_verdict(&self, _name: &str, _now: Instant) -> Verdict {
        Verdict::Pass
    }
    /// `name` se fue: se olvida su ritmo; devuelve cuántos datagramas suyos
    /// se descartaron sin anotar todavía.
    fn user_left(&self, _name: &str, _now: Instant) -> Option<u32> {
        None
    }
    /// Las ráfagas de datagramas que terminaron, por usuario, con cuántos
    /// se descartaron.
    fn floods_ended(&self, _now: Instant) -> Vec<(String, u32)> {
        Vec::new()
    }
    /// Contraseñas malas seguidas en una conexión antes de cerrarla (0:
    /// nunca).
    fn failures_before_close(&self) -> u32 {
        0
    }
    /// Antes de calcular ningún hash: `Err` rechaza el intento con ese
    /// problema; `Ok` trae líneas para la consola (un bloqueo que empieza).
    fn before_sign_in(
        &self,
        _attempt: &Attempt<'_>,
        _now: Instant,
    ) -> Result<Vec<String>, Problem> {
        Ok(Vec::new())
    }
    /// Después: `failed` si el nombre o la contraseña estaban mal. Devuelve
    /// líneas para la consola (un bloqueo que empieza).
    fn after_sign_in(&self, _attempt: &Attempt<'_>, _failed: bool, _now: Instant) -> Vec<String> {
        Vec::new()
    }
}

/// La respuesta del curso: todos pasan.
pub struct Open;

impl Guard for Open {}

/// Todas las respuestas que recibe el servidor. [`Plugins::default`] son
/// las del curso.
pub struct Plugins {
    /// Cómo se prepara cada socket aceptado.
    pub stream_setup: Box<dyn StreamSetup>,
    /// Quién cuenta lo que pasa.
    pub observer: Arc<dyn Observer>,
    /// Los límites contra el abuso.
    pub guard: Arc<dyn Guard>,
}

impl Default for Plugins {
    fn default() -> Plugins {
        Plugins {
            stream_setup: Box::new(PlainStreams),
            observer: Arc::new(Unobserved),
            guard: Arc::new(Open),
        }
    }
}
