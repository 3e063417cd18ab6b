//! La sala: quién tiene una sesión abierta, por qué transportes se le llega
//! (su conexión TCP, su dirección UDP, o ambas) y su token.
//!
//! Una cuenta se *reserva* al iniciar sesión (así nadie más puede entrar con
//! ella a la vez; la reserva recibe un token de 128 bits al azar) y se *une*
//! a la sala cuando ya tiene saldo; solo los unidos reciben mensajes,
//! aparecen en `:u` y generan avisos de conexión.
//!
//! Aquí vive la regla de entrega del relay TCP+UDP: una línea
//! llega por el transporte por el que vino mientras el destinatario pueda
//! recibirlo ([`Via`]). El candado de la sala se toma solo para leer o
//! cambiar el mapa; nunca mientras se escribe en un socket: los métodos
//! devuelven las colas de los destinatarios y quien llama entrega después.
//! No sabe de dinero (eso es de `ledger`) ni de qué se envía (`session`).

use crate::curso::protocolo::name_key;
use crate::curso::seams::{Census, Output};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Por dónde llegó una línea, y por lo tanto por dónde se prefiere entregarla.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Llegó por TCP (o es un aviso): por TCP a quien tenga conexión, si no por UDP.
    Tcp,
    /// Llegó por UDP: por UDP a quien tenga dirección UDP conocida, si no por TCP.
    Udp,
}

/// Una dirección UDP conocida y la cola que le envía datagramas.
#[derive(Clone)]
pub struct UdpEndpoint {
    /// La dirección que envió el último datagrama válido con el token.
    pub addr: SocketAddr,
    /// La cola hacia esa dirección.
    pub output: Arc<dyn Output>,
}

/// Cómo entró un usuario.
pub enum Presence {
    /// Por una conexión TCP (su cola).
    Tcp(Arc<dyn Output>),
    /// Por UDP, desde esta dirección.
    Udp(UdpEndpoint),
}

/// Lo que necesita quien atiende un datagrama con token.
pub struct TokenUser {
    /// Nombre registrado.
    pub name: String,
    /// `true` si ya está en la sala (respondió el saldo).
    pub joined: bool,
    /// La cola UDP hacia la dirección de este datagrama (las respuestas
    /// vuelven por el transporte por el que vino el comando).
    pub reply: Arc<dyn Output>,
    /// La conexión TCP del usuario, si tiene.
    pub tcp: Option<Arc<dyn Output>>,
    /// `true` si esta dirección UDP es nueva para el usuario.
    pub new_address: bool,
}

/// Qué hizo [`Room::claim`].
pub enum Claim {
    /// La cuenta no tenía sesión: la tiene ahora, con este token.
    New(String),
    /// La cuenta ya tenía una sesión solo-UDP desde la misma dirección: es
    /// esa, con su token de siempre.
    Again(String),
    /// La cuenta tenía una sesión solo-UDP desde otra dirección: se cerró
    /// (`old`, para avisarle a ella y a los demás) y la nueva tiene este
    /// token.
    Replaced {
        /// El token de la sesión nueva.
        token: String,
        /// La sesión que se cerró.
        old: Expired,
    },
    /// La cuenta tiene una sesión con conexión TCP.
    Taken,
}

/// Una sesión solo-UDP que se cerró sin `:q`: pasó su tiempo de
/// inactividad, o su dueño entró desde otro lugar.
pub struct Expired {
    /// Nombre registrado.
    pub name: String,
    /// Su cola UDP, para despedirlo.
    pub output: Arc<dyn Output>,
    /// Si estaba en la sala, las colas de los demás, para avisarles.
    pub others: Option<Vec<Arc<dyn Output>>>,
}

/// Las sesiones abiertas, por nombre sin distinguir mayúsculas.
#[derive(Default)]
pub struct Room {
    /// Todo lo de la sala, tras un candado: reservar, unirse, salir y
    /// elegir a quién entregar leen y cambian los tres mapas de [`Inner`]
    /// juntos. Sin él, dos entradas con la misma cuenta podrían ver las dos
    /// que está libre, o un mensaje podría elegir destinatarios de una sala
    /// a medio cambiar. Con él tomado solo se hacen `try_send` a las colas,
    /// que no esperan: nunca se escribe a un socket.
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    members: HashMap<String, Member>,
    /// token → clave del nombre.
    tokens: HashMap<String, String>,
    /// dirección UDP de una sesión → clave del nombre: para reconocer a
    /// quien envía una línea sin su token ([`Room::holds_udp`]).
    addrs: HashMap<SocketAddr, String>,
}

impl Inner {
    /// Olvida que `addr` es la dirección UDP de la sesión `key` (si otra
    /// sesión la tomó después, queda la de esa).
    fn forget_addr(&mut self, addr: SocketAddr, key: &str) {
        if self.addrs.get(&addr).is_some_and(|k| k == key) {
            self.addrs.remove(&addr);
        }
    }

    /// Quita la sesión `key` con su token y su dirección UDP.
    fn remove(&mut self, key: &str) -> Option<Member> {
        let member = self.members.remove(key)?;
        self.tokens.remove(&member.token);
        if let Some(udp) = &member.udp {
            self.forget_addr(udp.addr, key);
        }
        Some(member)
    }
}

struct Member {
    name: String,
    token: String,
    tcp: Option<Arc<dyn Output>>,
    udp: Option<UdpEndpoint>,
    joined: bool,
    last_udp: Instant,
}

impl Member {
    /// `true` si su cola UDP se cerró: pasó su límite de bytes (un usuario
    /// del modo confiable que no acusa), o la cortó el techo de todas las
    /// colas. Como el cliente TCP que no lee, queda fuera de la sala.
    fn udp_cut(&self) -> bool {
        self.udp.as_ref().is_some_and(|u| u.output.is_closed())
    }

    /// La cola preferida según por dónde vino la línea.
    fn output(&self, via: Via) -> Option<&Arc<dyn Output>> {
        let udp = self.udp.as_ref().map(|u| &u.output);
        match via {
            Via::Tcp => self.tcp.as_ref().or(udp),
            Via::Udp => udp.or(self.tcp.as_ref()),
        }
    }
}

impl Room {
    /// Una sala vacía.
    pub fn new() -> Room {
        Room::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::curso::sync::lock(&self.inner)
    }

    /// Reserva la cuenta `name` para `presence` (quien ya probó la
    /// contraseña) y dice con qué token ([`Claim`]).
    ///
    /// Si la cuenta no tiene sesión, le da un token nuevo (32 caracteres
    /// hexadecimales, 128 bits de `rand`). Si tiene una con conexión TCP,
    /// nada: [`Claim::Taken`] (la regla "account already connected"; el
    /// cierre de una conexión TCP se nota). Si tiene una solo-UDP, que el
    /// servidor no puede saber si sigue viva (UDP no tiene conexión que se
    /// corte; quien cerró `nc -u` con Ctrl-C no avisó):
    /// - desde la misma dirección, es la misma sesión que pide entrar otra
    ///   vez porque la respuesta se perdió: [`Claim::Again`], con el mismo
    ///   token, sin tocar nada;
    /// - desde otra, la contraseña prueba que es el dueño y la sesión vieja
    ///   se cierra: [`Claim::Replaced`], con un token nuevo.
    pub fn claim(&self, name: &str, presence: Presence) -> Claim {
        let mut inner = self.lock();
        let key = name_key(name);
        let mut replaced = None;
        if let Some(member) = inner.members.get(&key) {
            let Some(udp) = member.udp.as_ref().filter(|_| member.tcp.is_none()) else {
                return Claim::Taken;
            };
            if let Presence::Udp(endpoint) = &presence
                && endpoint.addr == udp.addr
            {
                return Claim::Again(member.token.clone());
            }
            if let Some(old) = inner.remove(&key) {
                let others = old.joined.then(|| others(&inner, &key, Via::Tcp));
                replaced = old.udp.map(|udp| Expired {
                    name: old.name,
                    output: udp.output,
                    others,
                });
            }
        }
        let token = new_token(&inner);
        let (tcp, udp) = match presence {
            Presence::Tcp(output) => (Some(output), None),
            Presence::Udp(endpoint) => (None, Some(endpoint)),
        };
        if let Some(udp) = &udp {
            inner.addrs.insert(udp.addr, key.clone());
        }
        inner.tokens.insert(token.clone(), key.clone());
        inner.members.insert(
            key,
            Member {
                name: name.to_string(),
                token: token.clone(),
                tcp,
                udp,
                joined: false,
                last_udp: Instant::now(),
            },
        );
        match replaced {
            Some(old) => Claim::Replaced { token, old },
            None => Claim::New(token),
        }
    }

    /// `true` si `name` está en la sala.
    pub fn is_joined(&self, name: &str) -> bool {
        self.lock()
            .members
            .get(&name_key(name))
            .is_some_and(|m| m.joined)
    }

    /// Une a la sala la cuenta reservada `name`. Devuelve `false` si ya
    /// estaba unida (una entrada repetida, [`Claim::Again`]): nadie tiene
    /// que enterarse otra vez.
    ///
    /// `confirm` envía la respuesta que le dice al usuario que entró (su
    /// saldo), y `announce`, el aviso de su llegada a las colas de los demás
    /// unidos (los avisos prefieren TCP). Los dos corren con el candado
    /// tomado, en el mismo paso en que queda unida: quien envía a la sala
    /// elige a quién con este candado, así que lo que se elija después (un
    /// aviso, un mensaje, también uno del recién llegado) sale detrás de
    /// los dos. Si la confirmación saliera antes, quien ya la leyó podría
    /// perderse la llegada de otro que entra justo después; si el aviso
    /// saliera después, los demás podrían leer un mensaje del recién
    /// llegado (por UDP, que lo atiende otro hilo) antes de saber que
    /// entró. Solo envían, sin esperar a nadie: no deben tomar este
    /// candado.
    pub fn join(
        &self,
        name: &str,
        confirm: impl FnOnce(),
        announce: impl FnOnce(&[Arc<dyn Output>]),
    ) -> bool {
        let mut inner = self.lock();
        confirm();
        let key = name_key(name);
        let Some(member) = inner.members.get_mut(&key) else {
            return false;
        };
        if std::mem::replace(&mut member.joined, true) {
            return false;
        }
        announce(&others(&inner, &key, Via::Tcp));
        true
    }

    /// Libera la sesión del token `token` y revoca el token. Si estaba en la
    /// sala, devuelve el nombre y las colas de los demás, para avisarles.
    /// Usar el token (y no el nombre) evita que una sesión vieja libere la
    /// de otra conexión que entró después con la misma cuenta.
    pub fn leave(&self, token: &str) -> Option<(String, Vec<Arc<dyn Output>>)> {
        let mut inner = self.lock();
        let key = inner.tokens.get(token)?.clone();
        let member = inner.remove(&key)?;
        member
            .joined
            .then(|| (member.name, others(&inner, &key, Via::Tcp)))
    }

    /// Las colas de todos los unidos menos `name`, según por dónde vino la línea.
    pub fn others(&self, name: &str, via: Via) -> Vec<Arc<dyn Output>> {
        others(&self.lock(), &name_key(name), via)
    }

    /// Busca a un usuario unido: su nombre registrado y la cola por la que
    /// conviene entregarle algo que vino por `via`.
    pub fn find(&self, name: &str, via: Via) -> Option<(String, Arc<dyn Output>)> {
        let inner = self.lock();
        let member = inner.members.get(&name_key(name)).filter(|m| m.joined)?;
        Some((member.name.clone(), Arc::clone(member.output(via)?)))
    }

    /// Vacía la sala de una vez (para apagar el servidor): desde ahora
    /// ninguna salida se anuncia, porque quien se va ya no está en ella
    /// (con N conectados, anunciar cada salida a los demás serían N²
    /// avisos). Devuelve las colas UDP de todos, para despedirlos; las TCP
    /// las tiene quien lleva las conexiones.
    pub fn close(&self) -> Vec<Arc<dyn Output>> {
        let mut inner = self.lock();
        inner.tokens.clear();
        inner.addrs.clear();
        let members = std::mem::take(&mut inner.members);
        let udp = members.into_values().filter_map(|m| m.udp);
        udp.map(|u| u.output).collect()
    }

    /// Quiénes hay, para `:stats`: los unidos con conexión TCP, los unidos
    /// solo por UDP, y todas las colas de salida (de unidos o no).
    pub fn census(&self) -> Census {
        let inner = self.lock();
        let mut census = Census::default();
        for member in inner.members.values() {
            match (member.joined, &member.tcp) {
                (true, Some(_)) => census.tcp += 1,
                (true, None) => census.udp += 1,
                (false, _) => {}
            }
            census.outputs.extend(member.tcp.iter().cloned());
            census
                .outputs
                .extend(member.udp.iter().map(|u| Arc::clone(&u.output)));
        }
        census
    }

    /// Los nombres de los unidos, ordenados sin distinguir mayúsculas.
    pub fn names(&self) -> Vec<String> {
        let inner = self.lock();
        let mut joined: Vec<(&String, &Member)> =
            inner.members.iter().filter(|(_, m)| m.joined).collect();
        joined.sort_by(|a, b| a.0.cmp(b.0));
        joined.into_iter().map(|(_, m)| m.name.clone()).collect()
    }

    /// De quién es `token`, sin cambiar nada: el nombre de su sesión
    /// abierta y su dirección UDP, si tiene una (`None`: el token no
    /// existe o fue revocado).
    pub fn token_owner(&self, token: &str) -> Option<(String, Option<SocketAddr>)> {
        let inner = self.lock();
        let member = inner.members.get(inner.tokens.get(token)?)?;
        Some((member.name.clone(), member.udp.as_ref().map(|u| u.addr)))
    }

    /// `true` si `name` tiene abierta su sesión UDP en `addr`: un
    /// `:register` de `name` que llega desde ahí es uno repetido, cuya
    /// respuesta se perdió.
    pub fn udp_session_at(&self, name: &str, addr: SocketAddr) -> bool {
        self.lock().addrs.get(&addr) == Some(&name_key(name))
    }

    /// `true` si `addr` es la dirección UDP de una sesión abierta: a una
    /// línea sin token que llega de ahí se le responde cómo enviarla (en
    /// `nc -u` hay que escribir el token).
    pub fn holds_udp(&self, addr: SocketAddr) -> bool {
        self.lock().addrs.contains_key(&addr)
    }

    /// Atiende el token de un datagrama que llegó desde `from`: el usuario
    /// de esa sesión, o `None` si el token no existe o fue revocado. Anota
    /// la hora (para la inactividad) y, si la dirección es nueva, la guarda
    /// con una cola creada por `endpoint`: desde ahí, lo de esa sesión va a
    /// esa dirección (quien cambió de red o reabrió `nc -u` sigue con su
    /// token). El programa completo solo deja llegar aquí una dirección
    /// nueva que probó que recibe (la *cookie*): si no, un datagrama con un
    /// token robado y el origen falsificado mandaría el chat de otro a una
    /// tercera dirección.
    pub fn by_token(
        &self,
        token: &str,
        from: SocketAddr,
        endpoint: impl FnOnce(SocketAddr) -> UdpEndpoint,
    ) -> Option<TokenUser> {
        let mut inner = self.lock();
        let key = inner.tokens.get(token)?.clone();
        let member = inner.members.get_mut(&key)?;
        let new_address = member.udp.as_ref().is_none_or(|u| u.addr != from);
        member.last_udp = Instant::now();
        let reply = match &member.udp {
            Some(udp) if !new_address => Arc::clone(&udp.output),
            _ => {
                let udp = endpoint(from);
                let reply = Arc::clone(&udp.output);
                let old = member.udp.replace(udp).map(|u| u.addr);
                if let Some(old) = old {
                    inner.forget_addr(old, &key);
                }
                inner.addrs.insert(from, key.clone());
                reply
            }
        };
        let member = inner.members.get(&key)?;
        Some(TokenUser {
            name: member.name.clone(),
            joined: member.joined,
            reply,
            tcp: member.tcp.clone(),
            new_address,
        })
    }

    /// Cierra las sesiones solo-UDP que no enviaron nada en `idle` (UDP no
    /// tiene una conexión que se corte, así que la inactividad es la única
    /// forma de saber que alguien se fue sin `:q`) y las de cola cerrada
    /// por pasar su límite. Toma el candado de cada cola bajo el de la
    /// sala: ninguna cola toma el de la sala, así que el orden no se
    /// invierte nunca.
    pub fn expire_udp(&self, idle: Duration) -> Vec<Expired> {
        let mut inner = self.lock();
        let stale: Vec<String> = inner
            .members
            .iter()
            .filter(|(_, m)| m.tcp.is_none() && (m.last_udp.elapsed() >= idle || m.udp_cut()))
            .map(|(key, _)| key.clone())
            .collect();
        let mut expired = Vec::new();
        for key in stale {
            let Some(member) = inner.remove(&key) else {
                continue;
            };
            let Some(udp) = member.udp else { continue };
            let others = member.joined.then(|| others(&inner, &key, Via::Tcp));
            expired.push(Expired {
                name: member.name,
                output: udp.output,
                others,
            });
        }
        expired
    }
}

/// Un token que ninguna sesión abierta usa: 128 bits de `rand` (un
/// generador criptográfico), en 32 caracteres hexadecimales. Que dos
/// coincidan es casi imposible, pero se comprueba igual: sería darle a uno
/// la sesión de otro.
fn new_token(inner: &Inner) -> String {
    loop {
        let token = format!("{:032x}", rand::random::<u128>());
        if !inner.tokens.contains_key(&token) {
            return token;
        }
    }
}

fn others(inner: &Inner, except: &str, via: Via) -> Vec<Arc<dyn Output>> {
    // Del tamaño justo desde el principio: crecer de a duplicaciones deja
    // en el hilo un búfer liberado de cada tamaño, que el `malloc` de glibc
    // guarda en su caché por hilo (medido con 10.000 clientes: ~5 KiB por hilo).
    let mut outputs = Vec::with_capacity(inner.members.len());
    outputs.extend(
        inner
            .members
            .iter()
            .filter(|(key, member)| member.joined && key.as_str() != except)
            .filter_map(|(_, member)| member.output(via).map(Arc::clone)),
    );
    outputs
}
