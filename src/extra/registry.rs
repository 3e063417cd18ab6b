//! El registro de las conexiones TCP abiertas: cuántas hay en total y
//! desde cada dirección (`--max-clients`, `--max-clients-per-ip`), la cola
//! de cada una, para despedir a todos al apagar, y si ya iniciaron sesión,
//! para el plazo de `--signin-timeout-secs` ([`Connections::unsigned_for`]).
//! Lleva también las del servidor de eco ([`EchoAdmission`], que no tienen
//! cola). No lee ni escribe sockets.

use crate::curso::seams::{Admission, Output, Place, Refusal};
use crate::extra::notices::Notice;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Las conexiones TCP abiertas, cada una con su cola: para los límites de
/// `--max-clients` y `--max-clients-per-ip`, y para despedir a todos al
/// apagar (`shutdown`).
#[derive(Default)]
pub struct Connections {
    open: Mutex<Open>,
    next_id: AtomicU64,
}

/// Una conexión anotada.
struct Connection {
    peer: SocketAddr,
    /// Su cola (las del eco no tienen).
    output: Option<Arc<dyn Output>>,
    /// Cuándo se aceptó.
    since: Instant,
    /// Ya no corre su plazo para iniciar sesión: entró, o ya se le avisó.
    cleared: bool,
}

/// Lo que protege el candado del registro.
#[derive(Default)]
struct Open {
    /// Cada conexión, por número.
    by_id: HashMap<u64, Connection>,
    /// Cuántas conexiones abiertas tiene cada dirección.
    per_ip: HashMap<IpAddr, usize>,
    /// El servidor se apaga: no entra nadie más (ver [`Connections::close`]).
    closed: bool,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Open> {
        crate::curso::sync::lock(&self.open)
    }

    /// Anota una conexión desde `peer` si hay lugar: menos de `max` en total
    /// y menos de `max_per_ip` desde su dirección (0: sin límite). Devuelve
    /// su número, o por qué no entra ([`Notice::ServerFull`]: ya hay `max`;
    /// [`Notice::TooManyFromAddress`]: su dirección ya tiene `max_per_ip`).
    pub(crate) fn try_add(
        &self,
        output: Option<&Arc<dyn Output>>,
        peer: SocketAddr,
        max: usize,
        max_per_ip: usize,
    ) -> Result<u64, Refusal> {
        let ip = peer.ip();
        let mut open = self.lock();
        if open.closed {
            return Err(Refusal {
                notice: Notice::ShuttingDown.event(),
                why: "the server is shutting down",
            });
        }
        if max > 0 && open.by_id.len() >= max {
            return Err(Refusal {
                notice: Notice::ServerFull.event(),
                why: "the server is full (--max-clients)",
            });
        }
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if max_per_ip > 0 && from_ip >= max_per_ip {
            return Err(Refusal {
                notice: Notice::TooManyFromAddress.event(),
                why: "too many connections from its address (--max-clients-per-ip)",
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Connection {
            peer,
            output: output.cloned(),
            since: Instant::now(),
            cleared: false,
        };
        open.by_id.insert(id, connection);
        open.per_ip.insert(ip, from_ip + 1);
        Ok(id)
    }

    fn remove(&self, id: u64) {
        let mut open = self.lock();
        let Some(Connection { peer, .. }) = open.by_id.remove(&id) else {
            return;
        };
        let ip = peer.ip();
        if let Some(count) = open.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }

    /// Cierra el registro (para apagar el servidor): desde ahora toda
    /// conexión nueva se rechaza con [`Notice::ShuttingDown`]. Devuelve las
    /// colas de las conexiones abiertas, para despedirlas: con el mismo
    /// candado, así ninguna entra sin su despedida.
    pub fn close(&self) -> Vec<Arc<dyn Output>> {
        let mut open = self.lock();
        open.closed = true;
        open.by_id
            .values()
            .filter_map(|c| c.output.clone())
            .collect()
    }

    /// Las conexiones que llevan `timeout` sin iniciar sesión, con su
    /// dirección y su cola, para avisarles y cerrarlas. Cada una sale una
    /// sola vez.
    pub fn unsigned_for(&self, timeout: Duration) -> Vec<(SocketAddr, Arc<dyn Output>)> {
        let mut open = self.lock();
        let late = open.by_id.values_mut().filter(|c| !c.cleared);
        let late = late.filter(|c| c.since.elapsed() >= timeout);
        let mut found = Vec::new();
        for connection in late {
            connection.cleared = true;
            if let Some(output) = &connection.output {
                found.push((connection.peer, Arc::clone(output)));
            }
        }
        found
    }
}

/// Borra la conexión del registro al terminar su hilo, también si el hilo
/// entra en pánico: un lugar de `--max-clients` nunca queda ocupado por un
/// cliente que ya no está.
pub(crate) struct Registered {
    pub(crate) connections: Arc<Connections>,
    pub(crate) id: u64,
}

impl Place for Registered {
    /// Su plazo para iniciar sesión deja de correr.
    fn signed_in(&mut self, _name: &str) {
        if let Some(connection) = self.connections.lock().by_id.get_mut(&self.id) {
            connection.cleared = true;
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.remove(self.id);
    }
}

/// Los topes del chat para el servidor de eco: un hilo por conexión no es
/// gratis. Su respuesta al punto de enchufe [`Admission`] del eco.
pub struct EchoAdmission {
    pub connections: Arc<Connections>,
    /// Conexiones a la vez (0 = sin límite).
    pub max: usize,
    /// Conexiones a la vez desde una dirección IP (0 = sin límite).
    pub max_per_ip: usize,
}

impl Admission for EchoAdmission {
    fn admit(&self, peer: SocketAddr) -> Result<Box<dyn Place>, &'static str> {
        match self
            .connections
            .try_add(None, peer, self.max, self.max_per_ip)
        {
            Ok(id) => Ok(Box::new(Registered {
                connections: Arc::clone(&self.connections),
                id,
            })),
            Err(refusal) => Err(refusal.why),
        }
    }
}
