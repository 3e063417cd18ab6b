//! El registro de las conexiones TCP abiertas: cuántas hay en total y
//! desde cada dirección (`--max-clients`, `--max-clients-per-ip`), y la cola
//! de cada una, para despedir a todos al apagar. Lleva también las del
//! servidor de eco ([`EchoAdmission`], que no tienen cola). No lee ni
//! escribe sockets.

use crate::curso::seams::{Admission, Output, Place, Refusal};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Las conexiones TCP abiertas, cada una con su cola: para los límites de
/// `--max-clients` y `--max-clients-per-ip`, y para despedir a todos al
/// apagar (`shutdown`).
#[derive(Default)]
pub struct Connections {
    open: Mutex<Open>,
    next_id: AtomicU64,
}

/// Lo que protege el candado del registro.
#[derive(Default)]
struct Open {
    /// Cada conexión, con su dirección y su cola (las del eco no tienen).
    by_id: HashMap<u64, (IpAddr, Option<Arc<dyn Output>>)>,
    /// Cuántas conexiones abiertas tiene cada dirección.
    per_ip: HashMap<IpAddr, usize>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Open> {
        crate::curso::sync::lock(&self.open)
    }

    /// Anota una conexión desde `ip` si hay lugar: menos de `max` en total
    /// y menos de `max_per_ip` desde esa dirección (0: sin límite). Devuelve
    /// su número, o por qué no entra ([`Refusal::Full`]: ya hay `max`;
    /// [`Refusal::TooManyFromAddress`]: su dirección ya tiene `max_per_ip`).
    pub(crate) fn try_add(
        &self,
        output: Option<&Arc<dyn Output>>,
        ip: IpAddr,
        max: usize,
        max_per_ip: usize,
    ) -> Result<u64, Refusal> {
        let mut open = self.lock();
        if max > 0 && open.by_id.len() >= max {
            return Err(Refusal::Full);
        }
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if max_per_ip > 0 && from_ip >= max_per_ip {
            return Err(Refusal::TooManyFromAddress);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.by_id.insert(id, (ip, output.cloned()));
        open.per_ip.insert(ip, from_ip + 1);
        Ok(id)
    }

    fn remove(&self, id: u64) {
        let mut open = self.lock();
        let Some((ip, _)) = open.by_id.remove(&id) else {
            return;
        };
        if let Some(count) = open.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }

    /// Las colas de todas las conexiones abiertas.
    pub fn outputs(&self) -> Vec<Arc<dyn Output>> {
        let open = self.lock();
        open.by_id.values().filter_map(|(_, o)| o.clone()).collect()
    }
}

/// Borra la conexión del registro al terminar su hilo, también si el hilo
/// entra en pánico: un lugar de `--max-clients` nunca queda ocupado por un
/// cliente que ya no está.
pub(crate) struct Registered {
    pub(crate) connections: Arc<Connections>,
    pub(crate) id: u64,
}

impl Place for Registered {}

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
    fn admit(&self, ip: IpAddr) -> Result<Box<dyn Place>, &'static str> {
        match self
            .connections
            .try_add(None, ip, self.max, self.max_per_ip)
        {
            Ok(id) => Ok(Box::new(Registered {
                connections: Arc::clone(&self.connections),
                id,
            })),
            Err(Refusal::Full) => Err("the server is full (--max-clients)"),
            Err(Refusal::TooManyFromAddress) => {
                Err("too many connections from its address (--max-clients-per-ip)")
            }
        }
    }
}
