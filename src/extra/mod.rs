//! Lo que el curso no pide y el programa completo agrega, cada pieza en su
//! archivo:
//! - [`abuse`]: las reglas contra el abuso (líneas por segundo, contraseñas).
//! - [`look_alike`]: los nombres que se confunden con otro (`aIice`, `alice`).
//! - [`cookie`]: la cookie que prueba una dirección UDP.
//! - [`datagrams`]: el socket UDP del programa completo: el laboratorio, la
//!   cookie, la entrega confiable y las colas, apilados.
//! - [`backlog`]: una cola de `accept` más larga que la de `std`.
//! - [`keepalive`]: detectar a un cliente TCP cuya red desapareció.
//! - [`send_buffer`]: el tope del búfer de envío del kernel por cliente TCP.
//! - [`receive_buffer`]: un búfer de recepción más grande para los sockets
//!   UDP, donde una ráfaga espera en vez de perderse.
//! - [`stats`]: las estadísticas en vivo (`:stats`), con contadores atómicos.
//! - [`config`]: la línea de comandos del servidor.
//! - [`client_config`]: la línea de comandos del cliente, y lo que el
//!   programa completo le enchufa (el laboratorio, `--reliable`).
//! - [`shutdown`]: el apagado ordenado con SIGINT o SIGTERM.
//! - [`registry`]: las conexiones abiertas y sus topes.
//! - [`signin_deadline`]: el plazo para iniciar sesión.
//! - [`cli`]: los errores de la línea de comandos, en castellano.
//! - [`editor`]: la línea de edición del cliente en una terminal.
//! - [`launch`]: el arranque del programa completo.
//! - [`rendimiento`]: las colas de salida rápidas y el hilo vaciador.
//! - [`laboratorio`]: el laboratorio de UDP: pérdida a pedido y entrega
//!   confiable hecha a mano.
//! - [`conformance`]: la suite que califica el servidor de otro (el de un
//!   alumno) contra los enunciados (`calificar`, `tests/conformidad.rs`).
//!
//! Aquí también se arma lo que el programa completo enchufa en el servidor
//! del curso ([`plugins`], [`server`]): es el único lugar que elige qué
//! respuesta va a cada punto de enchufe de [`crate::curso::seams`] (los
//! del cliente, en [`client_config`]).
//!
//! No es dueño de la lógica del chat: la usa desde [`crate::curso`].

pub mod abuse;
pub mod backlog;
pub mod cli;
pub mod client_config;
pub mod cliente;
pub mod config;
pub mod conformance;
pub mod cookie;
pub mod datagrams;
pub mod echo_limits;
pub mod editor;
pub mod invisible;
pub mod keepalive;
pub mod laboratorio;
pub mod launch;
pub mod logger;
pub mod look_alike;
pub mod notices;
pub mod receive_buffer;
pub mod registry;
pub mod rendimiento;
pub mod send_buffer;
pub mod shutdown;
pub mod signin_deadline;
pub mod stats;

use crate::curso::seams::StreamSetup;
use crate::curso::servidor::{Plugins, Server, ServerError, UdpSetup};
use crate::curso::session::Console;
use crate::curso::udp::UdpServer;
use config::Config;
use laboratorio::lossy::LossySocket;
use registry::Connections;
use rendimiento::bursts::Bursts;
use rendimiento::commit::GroupCommit;
use rendimiento::hashers::HasherPool;
use rendimiento::outbox::{Flusher, Queues};
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Lo que el programa completo ajusta en el socket que escucha (la cola
/// de `accept`) y en cada socket aceptado.
pub struct TcpTuning {
    /// Tiempo sin tráfico antes de sondear (`--keepalive-secs`); `None`,
    /// sin sondas. Un cliente cuya red desaparece no envía FIN: sin sondas,
    /// su hilo esperaría para siempre y el usuario seguiría "conectado".
    pub keepalive: Option<Duration>,
    /// El `SO_SNDBUF` pedido, en bytes (`--send-buffer-bytes`; 0 = el del
    /// kernel). Sin tope, el kernel agranda el búfer de envío de un cliente
    /// que no lee hasta 4 MiB, memoria que ni su cola ni el RSS cuentan.
    pub send_buffer_bytes: usize,
}

impl StreamSetup for TcpTuning {
    fn listening(&self, listener: &TcpListener) -> io::Result<()> {
        backlog::set(listener, backlog::LISTEN_BACKLOG)
    }

    fn prepare(&self, stream: &TcpStream) -> io::Result<()> {
        if let Some(idle) = self.keepalive {
            keepalive::enable(stream, idle)?;
        }
        send_buffer::limit(stream, self.send_buffer_bytes)
    }
}

/// Los límites del programa completo según `config`, que anotan cada
/// conexión TCP en `connections`: los usan el servidor (como su
/// [`crate::curso::seams::Guard`]) y el socket UDP.
pub fn guards(config: &Config, connections: &Arc<Connections>) -> Arc<abuse::Guards> {
    Arc::new(
        abuse::Guards::new(config.limits()).admitting(abuse::Admission {
            connections: Arc::clone(connections),
            max: config.max_clients,
            max_per_ip: config.max_clients_per_ip,
            signin_timeout: config.signin_timeout(),
        }),
    )
}

/// Las respuestas del programa completo a los puntos de enchufe del
/// servidor, según `config`, con los límites de `guards`; las colas de
/// salida usan `flusher`.
pub fn plugins(config: &Config, flusher: &Arc<Flusher>, guards: Arc<abuse::Guards>) -> Plugins {
    Plugins {
        stream_setup: Box::new(TcpTuning {
            keepalive: config.keepalive(),
            send_buffer_bytes: config.send_buffer_bytes,
        }),
        observer: Arc::new(stats::Stats),
        guard: guards,
        outputs: Arc::new(Queues {
            flusher: Arc::clone(flusher),
            limit: config.max_queue_bytes,
        }),
        read_loop: Arc::new(Bursts),
        durability: Box::new(GroupCommit::boxed),
        hashing: HasherPool::boxed,
    }
}

/// El servidor del programa completo según `config`, con los sockets
/// abiertos: las respuestas de [`plugins`] y el lado UDP con el
/// laboratorio de pérdidas. Las colas de TCP y las de UDP comparten un
/// flusher, y con él el techo global de memoria (`--max-total-queue-bytes`).
/// `console` recibe las líneas de consola. Devuelve también el registro de
/// las conexiones TCP (para despedirlas al apagar). Errores: [`ServerError`].
pub fn server(
    config: &Config,
    console: Console,
) -> Result<(Server, Arc<Connections>), ServerError> {
    let flusher = Flusher::start(config.max_total_queue_bytes).map_err(ServerError::Thread)?;
    let connections = Arc::new(Connections::default());
    let guards = guards(config, &connections);
    let plugins = plugins(config, &flusher, Arc::clone(&guards));
    let udp_config = config.clone();
    let udp: UdpSetup = Box::new(move |socket, chat| {
        // El libro ya está abierto: sus cuentas ocupan sus esqueletos.
        let names = chat.ledger.names();
        guards.names.seed(names.iter().map(String::as_str));
        if let Err(error) = receive_buffer::enlarge(&socket, receive_buffer::SERVER_BYTES) {
            chat.log(&format!(
                "could not enlarge the UDP receive buffer: {error}"
            ));
        }
        let lab = LossySocket::new(
            socket,
            udp_config.impairment(),
            udp_config.udp_seed,
            &stats::COUNTERS.lab,
        );
        let socket = Arc::new(datagrams::Stack::new(
            Box::new(lab),
            Arc::clone(&chat),
            guards,
            flusher,
            datagrams::StackSettings {
                queue_limit: udp_config.max_queue_bytes,
                pairs_per_ip: udp_config.max_clients_per_ip,
                reliable_timeout: udp_config.reliable_timeout(),
                coalesce: udp_config.impairment().is_off(),
            },
        ));
        let idle = udp_config.udp_idle();
        datagrams::Stack::start_timers(&socket, Arc::clone(&chat), idle)?;
        UdpServer::new(socket, chat, idle)
    });
    let server = Server::bind(&config.settings(), console, plugins, udp)?;
    if let Some(timeout) = config.signin_timeout() {
        let chat = Arc::clone(server.chat());
        signin_deadline::start(chat, Arc::clone(&connections), timeout)
            .map_err(ServerError::Thread)?;
    }
    Ok((server, connections))
}
