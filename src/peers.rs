//! Los pares del modo confiable en el servidor UDP (issue #17): por cada
//! dirección que lo pidió, un [`crate::fiable::Sender`] para lo que el servidor le
//! envía y un [`crate::fiable::Receiver`] para lo que llega de ella. Este módulo
//! guarda esa tabla y decide qué datagramas salen; no abre sockets ni
//! conoce el chat: el hilo UDP (`udp`) envía lo que aquí se devuelve y
//! atiende las líneas que aquí se entregan.
//!
//! Por qué por dirección y no por sesión: el modo confiable va *debajo*
//! del token, como TCP va debajo del chat. Así también viajan seguros el
//! `:login` y su respuesta, antes de que haya token. Un par solo se crea
//! para una dirección probada (con cookie, o con un token que la sala ya
//! conoce en esa dirección): una dirección falsificada no consigue estado
//! en el servidor (issue #13).
//!
//! Dos clases de hilos tocan la tabla: el hilo UDP (llega un datagrama,
//! vence un temporizador) y cualquiera que envía a un usuario UDP (el que
//! difunde un mensaje, el de las entradas). El candado de la tabla se toma
//! solo para buscar; cada par tiene el suyo, así dos usuarios confiables
//! no se esperan entre sí. Nunca se toman los dos a la vez en orden
//! inverso: primero la tabla (y se suelta), después el par.

use crate::fiable::{Packet, Receiver, Sender, Step};
use crate::stats::{COUNTERS, Counters};
use crate::sync::lock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Cada cuánto, como mucho, el hilo UDP revisa los temporizadores de
/// retransmisión mientras haya pares: mucho menos que el plazo mínimo
/// ([`crate::fiable::MIN_RTO`], 200 ms), para que un vencimiento no se
/// atrase de más.
pub const TICK: Duration = Duration::from_millis(20);

/// Cuántas líneas pueden esperar lugar en la ventana de un par. La cola de
/// salida de un usuario UDP (`outbox`) entrega todo al instante a su
/// enlace, así que su límite no frena a un par que no acusa: este sí. Un
/// par que lo pasa se da por ido, como el cliente TCP que no lee se
/// desconecta con la cola llena (issue #6), en vez de crecer sin fin.
pub const MAX_BACKLOG: usize = 4096;

/// Un par: los dos sentidos del modo confiable con una dirección.
struct Peer {
    sender: Sender,
    receiver: Receiver,
    /// Cuándo llegó el último datagrama de esta dirección.
    last_heard: Instant,
    /// Lo ya sumado a los contadores globales, para sumar solo lo nuevo.
    counted: (u64, u64),
    /// Pasó [`MAX_BACKLOG`]: en el próximo `tick` se da por ido.
    overflowed: bool,
}

impl Peer {
    /// Suma a [`COUNTERS`] lo que este par retransmitió o descartó desde la
    /// última vez.
    fn count(&mut self) {
        let now = (self.sender.retransmissions, self.receiver.duplicates);
        Counters::add(&COUNTERS.udp_retransmitted, now.0 - self.counted.0);
        Counters::add(&COUNTERS.udp_duplicates_discarded, now.1 - self.counted.1);
        self.counted = now;
    }

    /// Lo que el emisor tenga para enviar a la hora `now`, en texto.
    fn poll(&mut self, now: Instant) -> Option<Vec<String>> {
        let step = self.sender.poll(now);
        self.count();
        match step {
            Step::Send(packets) => Some(packets.iter().map(Packet::to_line).collect()),
            Step::Gone => None,
        }
    }
}

/// Lo que hay que hacer tras un datagrama confiable.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Arrival {
    /// Datagramas que salen hacia esa dirección (el acuse, o lo que el
    /// acuse dejó entrar en la ventana), en texto, sin `\n`.
    pub send: Vec<String>,
    /// Las líneas que ya se pueden atender, en orden.
    pub deliver: Vec<String>,
}

/// Lo que hay que hacer tras revisar los temporizadores.
#[derive(Debug, Default)]
pub struct Tick {
    /// Datagramas que salen: retransmisiones.
    pub send: Vec<(SocketAddr, String)>,
    /// Direcciones dadas por idas: pasaron más de
    /// [`crate::fiable::MAX_RETRIES`] vencimientos sin acuse, o más de
    /// [`MAX_BACKLOG`] líneas esperando. Su par ya no está; la sesión, si
    /// la hay, termina por inactividad.
    pub gone: Vec<SocketAddr>,
}

/// La tabla de pares del servidor.
#[derive(Default)]
pub struct Peers {
    table: Mutex<HashMap<SocketAddr, Arc<Mutex<Peer>>>>,
    /// Cuántos pares hay, sin tomar el candado: con ninguno (lo normal),
    /// enviar a un usuario UDP no toca la tabla.
    count: AtomicUsize,
}

impl Peers {
    /// Una tabla vacía.
    pub fn new() -> Peers {
        Peers::default()
    }

    /// `true` si no hay ningún par (una lectura atómica, sin candado).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    fn get(&self, addr: SocketAddr) -> Option<Arc<Mutex<Peer>>> {
        if self.is_empty() {
            return None;
        }
        lock(&self.table).get(&addr).cloned()
    }

    /// Lo que sale hacia `addr` a la hora `now`, una o más líneas (sin el
    /// `\n` final): si `addr` usa el modo confiable, cada línea entra en su
    /// emisor y se devuelven los datagramas que salen ya (quizá ninguno, si
    /// la ventana está llena); si no, `None` y el texto sale tal cual.
    pub fn outgoing(&self, addr: SocketAddr, text: &str, now: Instant) -> Option<Vec<String>> {
        let peer = self.get(addr)?;
        let mut peer = lock(&peer);
        for line in text.split('\n') {
            if peer.overflowed || peer.sender.backlog() >= MAX_BACKLOG {
                peer.overflowed = true;
                return Some(Vec::new());
            }
            peer.sender.offer(line.to_string());
        }
        // `Gone` se atiende en `tick`: aquí solo no sale nada.
        Some(peer.poll(now).unwrap_or_default())
    }

    /// Llegó un datagrama confiable de `addr` a la hora `now`. `may_open`:
    /// la dirección está probada, así que si no tenía par se crea (el
    /// primer datagrama de una sesión confiable). Sin par y sin prueba,
    /// `None`: quien llama pide la prueba (la cookie).
    pub fn arrived(
        &self,
        addr: SocketAddr,
        packet: Packet,
        may_open: bool,
        now: Instant,
    ) -> Option<Arrival> {
        let peer = match (self.get(addr), &packet) {
            (Some(peer), _) => peer,
            // Un acuse sin par: de una sesión ya olvidada. Nada que hacer.
            (None, Packet::Ack { .. }) => return Some(Arrival::default()),
            (None, Packet::Data { .. }) if may_open => self.open(addr, now),
            (None, Packet::Data { .. }) => return None,
        };
        let mut peer = lock(&peer);
        peer.last_heard = now;
        let arrival = match packet {
            Packet::Data { seq, payload } => {
                let (deliver, ack) = peer.receiver.on_data(seq, payload);
                Arrival {
                    send: vec![ack.to_line()],
                    deliver,
                }
            }
            Packet::Ack { next, sacked } => {
                peer.sender.on_ack(next, &sacked, now);
                // El acuse pudo abrir lugar en la ventana.
                Arrival {
                    send: peer.poll(now).unwrap_or_default(),
                    deliver: Vec::new(),
                }
            }
        };
        peer.count();
        Some(arrival)
    }

    fn open(&self, addr: SocketAddr, now: Instant) -> Arc<Mutex<Peer>> {
        let mut table = lock(&self.table);
        let peer = table.entry(addr).or_insert_with(|| {
            Arc::new(Mutex::new(Peer {
                sender: Sender::new(),
                receiver: Receiver::new(),
                last_heard: now,
                counted: (0, 0),
                overflowed: false,
            }))
        });
        let peer = Arc::clone(peer);
        self.count.store(table.len(), Ordering::Relaxed);
        peer
    }

    /// Revisa los temporizadores a la hora `now`: lo vencido se
    /// retransmite; el par que agotó sus reintentos se olvida, y también el
    /// que no envió nada en `idle` y no espera ningún acuse (una sesión que
    /// terminó).
    pub fn tick(&self, now: Instant, idle: Duration) -> Tick {
        let peers: Vec<(SocketAddr, Arc<Mutex<Peer>>)> = lock(&self.table)
            .iter()
            .map(|(addr, peer)| (*addr, Arc::clone(peer)))
            .collect();
        let mut tick = Tick::default();
        let mut forget = Vec::new();
        for (addr, peer) in peers {
            let mut peer = lock(&peer);
            if peer.overflowed {
                Counters::add(&COUNTERS.overflow_disconnects, 1);
                tick.gone.push(addr);
                forget.push(addr);
                continue;
            }
            match peer.poll(now) {
                Some(lines) => tick.send.extend(lines.into_iter().map(|line| (addr, line))),
                None => {
                    tick.gone.push(addr);
                    forget.push(addr);
                }
            }
            if peer.sender.is_idle() && now.saturating_duration_since(peer.last_heard) >= idle {
                forget.push(addr);
            }
        }
        if !forget.is_empty() {
            let mut table = lock(&self.table);
            for addr in forget {
                table.remove(&addr);
            }
            self.count.store(table.len(), Ordering::Relaxed);
        }
        tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn data(seq: u32, payload: &str) -> Packet {
        Packet::Data {
            seq,
            payload: payload.into(),
        }
    }

    #[test]
    fn a_pair_opens_only_for_a_proven_address() {
        let peers = Peers::new();
        let now = Instant::now();
        assert_eq!(
            peers.arrived(addr(1), data(0, ":login a b"), false, now),
            None
        );
        assert!(peers.is_empty(), "sin prueba no hay estado");
        assert_eq!(peers.outgoing(addr(1), "hola", now), None, "sale tal cual");
        let arrival = peers.arrived(addr(1), data(0, ":login a b"), true, now);
        assert_eq!(
            arrival,
            Some(Arrival {
                send: vec![":ack 1".into()],
                deliver: vec![":login a b".into()],
            })
        );
        assert!(peers.outgoing(addr(1), "hola", now).is_some(), "numerada");
        // Lo repetido se acusa otra vez pero no se entrega dos veces.
        let again = peers.arrived(addr(1), data(0, ":login a b"), false, now);
        assert_eq!(again.map(|a| a.deliver), Some(vec![]));
    }

    #[test]
    fn lines_to_a_pair_are_numbered_and_retransmitted_until_acknowledged() {
        let peers = Peers::new();
        let t0 = Instant::now();
        peers.arrived(addr(2), data(0, ":ping"), true, t0);
        assert_eq!(
            peers.outgoing(addr(2), "pong", t0),
            Some(vec![":seq 0 pong".into()])
        );
        let idle = Duration::from_secs(300);
        assert!(
            peers
                .tick(t0 + Duration::from_millis(500), idle)
                .send
                .is_empty()
        );
        let late = peers.tick(t0 + Duration::from_secs(1), idle);
        assert_eq!(late.send, vec![(addr(2), ":seq 0 pong".to_string())]);
        let ack = Packet::Ack {
            next: 1,
            sacked: vec![],
        };
        peers.arrived(addr(2), ack, false, t0);
        assert!(
            peers
                .tick(t0 + Duration::from_secs(10), idle)
                .send
                .is_empty()
        );
    }

    #[test]
    fn a_pair_that_does_not_acknowledge_cannot_make_the_server_grow_without_bound() {
        let peers = Peers::new();
        let now = Instant::now();
        peers.arrived(addr(4), data(0, ":ping"), true, now);
        for i in 0..MAX_BACKLOG + crate::fiable::WINDOW + 10 {
            peers.outgoing(addr(4), &format!("línea {i}"), now);
        }
        let tick = peers.tick(now, Duration::from_secs(300));
        assert_eq!(tick.gone, vec![addr(4)]);
        assert!(peers.is_empty());
    }

    #[test]
    fn a_pair_that_never_acknowledges_is_declared_gone_and_forgotten() {
        let peers = Peers::new();
        let mut now = Instant::now();
        peers.arrived(addr(3), data(0, ":ping"), true, now);
        peers.outgoing(addr(3), "pong", now);
        let idle = Duration::from_secs(3600);
        let mut gone = Vec::new();
        for _ in 0..20 {
            now += crate::fiable::MAX_RTO;
            gone.extend(peers.tick(now, idle).gone);
        }
        assert_eq!(gone, vec![addr(3)]);
        assert!(peers.is_empty());
    }
}
