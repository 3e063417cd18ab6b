//! Los puntos de enchufe del cliente: lo que el cliente del curso hace de
//! la manera más simple y el programa completo cambia desde afuera.
//!
//! Dos, los dos del lado UDP: el enlace ([`Link`], por dónde pasa cada
//! datagrama entre el socket y la red: tal cual en el curso, con pérdidas a
//! pedido en el laboratorio) y la entrega confiable ([`ReliableMode`],
//! números de secuencia, acuses y retransmisiones; el curso no la tiene:
//! UDP pierde, y el enunciado lo acepta). Cada sesión recibe los suyos en
//! un [`Plugins`]; el del curso es [`Plugins::default`]. No es dueño de
//! ninguna respuesta que no sea la del curso.

use super::screen::Screen;
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Por dónde pasa cada datagrama del cliente, entre su socket UDP y la red.
///
/// Es un enchufe porque al curso le basta el socket tal cual; el
/// laboratorio del programa completo pierde, duplica y desordena datagramas
/// a pedido (`--loss`...), para ver qué hace el chat cuando UDP falla.
pub trait Link: Send + Sync {
    /// Envía `bytes` (un datagrama) por `udp`, conectado al servidor.
    /// Error: el de `send` (un datagrama que el enlace pierde a propósito no
    /// es un error: UDP tampoco avisa).
    fn send(&self, udp: &UdpSocket, bytes: &[u8]) -> io::Result<()>;
    /// Lo que sigue su camino de un datagrama recibido: con el socket del
    /// curso, el mismo datagrama; con pérdidas, ninguno, uno o más.
    fn arrived(&self, datagram: &[u8]) -> Vec<Vec<u8>>;
    /// Al terminar la sesión: lo que el enlace tenga que contar.
    fn finish(&self, screen: &dyn Screen);
}

/// La respuesta del curso: cada datagrama sale y llega tal cual.
pub struct PlainLink;

impl Link for PlainLink {
    fn send(&self, udp: &UdpSocket, bytes: &[u8]) -> io::Result<()> {
        udp.send(bytes).map(|_| ())
    }

    fn arrived(&self, datagram: &[u8]) -> Vec<Vec<u8>> {
        vec![datagram.to_vec()]
    }

    fn finish(&self, _screen: &dyn Screen) {}
}

/// La entrega confiable del modo `--udp` (`--reliable` en el programa
/// completo): cada línea que sale va numerada y se retransmite hasta su
/// acuse; cada una que llega se acusa y se entrega una vez y en orden.
///
/// El curso no la tiene, así que no hay respuesta por omisión: sin ella,
/// [`Plugins::reliable`] es `None` y cada línea sale una vez (UDP pierde,
/// y el enunciado lo acepta). Es una máquina de estados: recibe líneas y
/// el momento (`now`), y devuelve las líneas que hay que enviar; el
/// cliente las enmarca (la cookie, el token) y las envía por su [`Link`].
/// Quien la implementa guarda su estado tras un candado propio, que el
/// cliente toma siempre *después* del suyo.
pub trait ReliableMode: Send + Sync {
    /// Espera hasta que venza el próximo plazo del emisor (o uno más
    /// cercano que se arme mientras tanto), a lo sumo `limit`: entonces
    /// toca [`ReliableMode::tick`]. La llama el hilo de los temporizadores
    /// del cliente, sin ningún candado del cliente tomado.
    fn wait(&self, limit: Duration);
    /// Despierta ya a quien espera en [`ReliableMode::wait`] (la sesión
    /// terminó).
    fn interrupt(&self);
    /// Una línea del usuario entra en la cola: devuelve las que salen ya
    /// (lo que cabe en la ventana).
    fn send(&self, line: &str, now: Instant) -> Vec<String>;
    /// Todo lo que está en vuelo, para enviarlo otra vez ya (llegó la
    /// cookie, o una respuesta se hace esperar).
    fn resend(&self, now: Instant) -> Vec<String>;
    /// Una línea de un datagrama del servidor: `None` si no es de la
    /// entrega confiable (la cookie); si lo es, qué mostrar y qué enviar.
    fn arrival(&self, line: &str, now: Instant) -> Option<Arrival>;
    /// El temporizador: lo vencido, que sale otra vez. Error: el servidor
    /// no acusó nada tras los reintentos, y se lo da por ido.
    fn tick(&self, now: Instant) -> Result<Vec<String>, Gone>;
    /// `true` si todo lo enviado tiene su acuse.
    fn is_idle(&self) -> bool;
    /// Al terminar la sesión: lo que tenga que contar.
    fn finish(&self, screen: &dyn Screen);
}

/// Lo que produce una línea de la entrega confiable que llega.
#[derive(Debug, Default, PartialEq)]
pub struct Arrival {
    /// Las líneas que ya se pueden mostrar, en orden (quizá ninguna: un
    /// acuse, un repetido, uno adelantado).
    pub deliver: Vec<String>,
    /// Las líneas que hay que enviar: el acuse, o lo que el acuse dejó
    /// entrar en la ventana.
    pub send: Vec<String>,
}

/// El servidor no acusó nada tras `retries` retransmisiones seguidas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone {
    /// Las retransmisiones sin acuse tras las que se rindió.
    pub retries: u32,
}

/// Tras cuánto silencio el modo `--udp` envía `:ping`, si no se pide otra
/// cosa: con el plazo del servidor en 300 s (`--udp-idle-secs`), caben
/// cuatro perdidos.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(60);

/// Lo que se enchufa en una sesión del cliente.
pub struct Plugins {
    /// El enlace del lado UDP.
    pub link: Box<dyn Link>,
    /// La entrega confiable del modo `--udp`, si se pidió.
    pub reliable: Option<Box<dyn ReliableMode>>,
    /// En modo `--udp`: tras cuánto tiempo sin enviar nada se envía
    /// `:ping`, para que el servidor no cierre la sesión de quien solo lee
    /// (el cliente del curso no lo hace).
    pub keepalive: Duration,
}

impl Default for Plugins {
    /// El socket tal cual, sin entrega confiable, con un `:ping` por
    /// minuto de silencio.
    fn default() -> Plugins {
        Plugins {
            link: Box::new(PlainLink),
            reliable: None,
            keepalive: DEFAULT_KEEPALIVE,
        }
    }
}
