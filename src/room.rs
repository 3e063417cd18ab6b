//! La sala: quién tiene una sesión abierta y cómo llegarle (su [`Outbox`]).
//!
//! Una cuenta se *reserva* al iniciar sesión (así nadie más puede entrar con
//! ella a la vez) y se *une* a la sala cuando ya tiene saldo; solo los unidos
//! reciben mensajes, aparecen en `:u` y generan avisos de conexión.
//!
//! El candado de la sala se toma solo para leer o cambiar el mapa; nunca
//! mientras se escribe en un socket: los métodos devuelven las colas de los
//! destinatarios y quien llama entrega después, sin el candado. No sabe de
//! dinero (eso es de `ledger`) ni de qué se envía (eso es de `session`).

use crate::outbox::Outbox;
use crate::protocolo::name_key;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Las sesiones abiertas, por nombre sin distinguir mayúsculas.
#[derive(Default)]
pub struct Room {
    members: Mutex<HashMap<String, Member>>,
}

struct Member {
    name: String,
    outbox: Arc<Outbox>,
    joined: bool,
}

impl Room {
    /// Una sala vacía.
    pub fn new() -> Room {
        Room::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserva la cuenta `name` para la sesión de `outbox`. Devuelve `false`
    /// si ya tiene una sesión abierta (la regla "account already connected").
    pub fn claim(&self, name: &str, outbox: &Arc<Outbox>) -> bool {
        let mut members = self.lock();
        let key = name_key(name);
        if members.contains_key(&key) {
            return false;
        }
        members.insert(
            key,
            Member {
                name: name.to_string(),
                outbox: Arc::clone(outbox),
                joined: false,
            },
        );
        true
    }

    /// Une a la sala la cuenta reservada `name` y devuelve las colas de los
    /// demás unidos, para avisarles.
    pub fn join(&self, name: &str) -> Vec<Arc<Outbox>> {
        let mut members = self.lock();
        let key = name_key(name);
        if let Some(member) = members.get_mut(&key) {
            member.joined = true;
        }
        others(&members, &key)
    }

    /// Libera la cuenta `name`. Si estaba unida, devuelve las colas de los
    /// demás unidos para avisarles de la salida.
    pub fn leave(&self, name: &str) -> Option<Vec<Arc<Outbox>>> {
        let mut members = self.lock();
        let key = name_key(name);
        let member = members.remove(&key)?;
        member.joined.then(|| others(&members, &key))
    }

    /// Las colas de todos los unidos menos `name`.
    pub fn others(&self, name: &str) -> Vec<Arc<Outbox>> {
        others(&self.lock(), &name_key(name))
    }

    /// Busca a un usuario unido: su nombre registrado y su cola.
    pub fn find(&self, name: &str) -> Option<(String, Arc<Outbox>)> {
        let members = self.lock();
        let member = members.get(&name_key(name)).filter(|m| m.joined)?;
        Some((member.name.clone(), Arc::clone(&member.outbox)))
    }

    /// Los nombres de los unidos, ordenados sin distinguir mayúsculas.
    pub fn names(&self) -> Vec<String> {
        let members = self.lock();
        let mut joined: Vec<(&String, &Member)> =
            members.iter().filter(|(_, m)| m.joined).collect();
        joined.sort_by(|a, b| a.0.cmp(b.0));
        joined.into_iter().map(|(_, m)| m.name.clone()).collect()
    }
}

fn others(members: &HashMap<String, Member>, except: &str) -> Vec<Arc<Outbox>> {
    members
        .iter()
        .filter(|(key, member)| member.joined && key.as_str() != except)
        .map(|(_, member)| Arc::clone(&member.outbox))
        .collect()
}
