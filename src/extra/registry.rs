//! El registro de las conexiones TCP abiertas: cuántas hay en total y
//! desde cada dirección (`--max-clients`, `--max-clients-per-ip`), y la cola
//! de cada una, para despedir a todos al apagar. No lee ni escribe sockets.

use crate::curso::seams::{Output, Place, Refusal};
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
    /// Cada conexión, con su dirección y su cola.
    by_id: HashMap<u64, (IpAddr, Arc<dyn Output>)>,
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
        output: &Arc<dyn Output>,
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
        open.by_id.insert(id, (ip, Arc::clone(output)));
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
        self.lock()
            .by_id
            .values()
            .map(|(_, output)| Arc::clone(output))
            .collect()
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
