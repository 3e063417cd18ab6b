//! Los pares del modo confiable en el servidor UDP: por cada dirección que
//! lo pidió, un [`crate::extra::laboratorio::reliable::Sender`] para lo que el servidor le envía y
//! un [`crate::extra::laboratorio::reliable::Receiver`] para lo que llega de ella. Este módulo
//! guarda esa tabla, decide qué datagramas salen y mantiene acotado lo que
//! cada par guarda; no abre sockets ni conoce el chat: el hilo UDP (`udp`)
//! envía lo que aquí se devuelve y atiende las líneas que aquí se entregan.
//!
//! Por qué por dirección y no por sesión: el modo confiable va *debajo*
//! del token, como TCP va debajo del chat. Así también viajan seguros el
//! `:login` y su respuesta, antes de que haya token. Un par solo se crea
//! para una dirección probada (con cookie, o con un token que la sala ya
//! conoce en esa dirección): una dirección falsificada no consigue estado
//! en el servidor.
//!
//! La memoria de un par tiene tope, como la cola de un cliente TCP, para
//! que nadie la use contra el servidor:
//! - lo adelantado que guarda su receptor: a lo sumo la ventana, de
//!   líneas de a lo sumo `MAX_LINE_BYTES`; lo demás se tira sin acuse;
//! - lo que su emisor tiene en vuelo o esperando: a lo sumo la ventana; lo
//!   demás queda en la cola de salida del usuario (`outbox`), con su
//!   límite `--max-queue-bytes`;
//! - todo eso cuenta para el límite de la cola del usuario
//!   (`--max-queue-bytes`, ver [`Peers::held`]) y para el techo de todas
//!   las colas (`--max-total-queue-bytes`): sobre él, lo adelantado no se
//!   guarda;
//! - una dirección IP abre a lo sumo `--max-clients-per-ip` pares, y un par
//!   que no acusó nada en [`PROBATION`] se olvida.
//!
//! Dos clases de hilos tocan la tabla: el hilo UDP (llega un datagrama,
//! vence un temporizador) y cualquiera que envía a un usuario UDP (el que
//! difunde un mensaje, el flusher). El candado de la tabla se toma solo
//! para buscar; cada par tiene el suyo, así dos usuarios confiables no se
//! esperan entre sí. Nunca se toman los dos a la vez en orden inverso:
//! primero la tabla (y se suelta), después el par.

use crate::curso::sync::lock;
use crate::extra::laboratorio::alarm::Alarm;
use crate::extra::laboratorio::reliable::{Packet, Receiver, Sender, Step};
use crate::extra::rendimiento::flusher::Flusher;
use crate::extra::stats::{COUNTERS, Counters};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Cuánto vive un par que todavía no acusó nada de lo que el servidor le
/// envió: 10 s. Un cliente de verdad acusa la respuesta a su primer
/// datagrama (el `:login`) en una ida y vuelta; un par que no acusa nada
/// es de alguien que no escucha, y no debe ocupar memoria los 300 s de
/// una sesión inactiva.
pub const PROBATION: Duration = Duration::from_secs(10);

/// Un par: los dos sentidos del modo confiable con una dirección.
struct Peer {
    sender: Sender,
    receiver: Receiver,
    /// Cuándo se creó.
    opened: Instant,
    /// Cuándo llegó el último datagrama de esta dirección.
    last_heard: Instant,
    /// El otro acusó algo que el servidor le envió: recibe en su dirección.
    confirmed: bool,
    /// Su cola de salida se cerró (se fue, o pasó su límite): no acepta
    /// líneas nuevas y se olvida en cuanto no le quede nada en vuelo.
    closing: bool,
    /// Ya no está en la tabla: quien lo tenía en la mano no lo toca más.
    forgotten: bool,
    /// Lo ya sumado a los contadores globales, para sumar solo lo nuevo:
    /// retransmisiones, repetidos, rechazados y acuses falsos.
    counted: [u64; 4],
    /// Bytes de este par sumados ahora al techo de las colas (ver
    /// [`Peers::settle`]).
    held: usize,
    /// El token de la sesión que usa esta dirección, desde el primer
    /// datagrama que lo trajo desde ella: si el par se da por ido, esa
    /// sesión termina.
    token: Option<String>,
}

impl Peer {
    /// Suma a [`COUNTERS`] lo que este par retransmitió, descartó o
    /// rechazó desde la última vez.
    fn count(&mut self) {
        let now = [
            self.sender.retransmissions,
            self.receiver.duplicates,
            self.receiver.refused,
            self.sender.bogus_acks,
        ];
        let counters = [
            &COUNTERS.udp_retransmitted,
            &COUNTERS.udp_duplicates_discarded,
            &COUNTERS.reliable_refused,
            &COUNTERS.reliable_bogus_acks,
        ];
        for ((counter, now), before) in counters.into_iter().zip(now).zip(self.counted) {
            Counters::add(counter, now - before);
        }
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

/// Lo que pasó con una línea ofrecida a [`Peers::offer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// La dirección no usa el modo confiable: la línea sale tal cual.
    Plain,
    /// La línea entró en el emisor del par; salen estos datagramas (quizá
    /// ninguno todavía).
    Sent(Vec<String>),
    /// La ventana del par está llena (el otro no acusa), o el techo de
    /// memoria no deja lugar: la línea queda en la cola de quien la
    /// ofreció, que tiene su propio límite.
    Full,
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
    /// Direcciones dadas por idas, con el token de su sesión si se supo:
    /// pasó el silencio que se tolera (`--reliable-timeout-secs`) con algo
    /// en vuelo, o más de
    /// [`crate::extra::laboratorio::reliable::MAX_RETRIES`] sondas sin
    /// acuse. Su par ya no está.
    pub gone: Vec<(SocketAddr, Option<String>)>,
    /// El plazo más cercano de los pares que quedan: cuándo hay que volver
    /// a revisar.
    pub next: Option<Instant>,
}

/// La tabla de pares del servidor.
pub struct Peers {
    table: Mutex<HashMap<SocketAddr, Arc<Mutex<Peer>>>>,
    /// Cuántos pares hay, sin tomar el candado: con ninguno (lo normal),
    /// enviar a un usuario UDP no toca la tabla.
    count: AtomicUsize,
    /// El techo de memoria de las colas (`--max-total-queue-bytes`): lo que
    /// guardan los pares cuenta en él como lo que guardan las colas TCP.
    flusher: Arc<Flusher>,
    /// Pares a la vez desde una misma dirección IP (0 = sin límite).
    per_ip: usize,
    /// Bytes, como mucho, de un datagrama adelantado que se guarda: el de
    /// una línea del chat.
    max_store: usize,
    /// El despertador del hilo de los temporizadores.
    alarm: Alarm,
    /// El silencio que se tolera a un par con algo en vuelo antes de darlo
    /// por ido (`--reliable-timeout-secs`).
    silence: Duration,
}

impl Peers {
    /// Una tabla vacía. `flusher`: el techo de memoria compartido con las
    /// colas; `per_ip`: pares a la vez por dirección IP (0 = sin límite),
    /// como `--max-clients-per-ip` para TCP; `max_store`: el largo máximo,
    /// en bytes, de una línea adelantada que se guarda (`MAX_LINE_BYTES`);
    /// `silence`: cuánto tiempo sin ningún acuse nuevo, con algo en vuelo,
    /// da a un par por ido.
    pub fn new(flusher: Arc<Flusher>, per_ip: usize, max_store: usize, silence: Duration) -> Peers {
        Peers {
            table: Mutex::new(HashMap::new()),
            count: AtomicUsize::new(0),
            flusher,
            per_ip,
            max_store,
            alarm: Alarm::default(),
            silence,
        }
    }

    /// El token de la sesión que `addr` usa desde esa misma dirección
    /// (quien llama ya lo comprobó): si su par se da por ido, esa sesión
    /// termina ([`Tick::gone`]).
    pub fn remember_token(&self, addr: SocketAddr, token: &str) {
        if let Some(peer) = self.get(addr) {
            let mut peer = lock(&peer);
            if peer.token.as_deref() != Some(token) {
                peer.token = Some(token.to_string());
            }
        }
    }

    /// `true` si el par de `addr` recuerda `token` (ver
    /// [`Peers::remember_token`]): la sesión de ese token estuvo en esa
    /// dirección, aunque ya haya terminado. Tras `:q` el token ya no está
    /// en la sala, pero lo que todavía viaja en el par (la despedida, su
    /// acuse, un `:q` repetido) lo lleva delante: sigue siendo la prueba
    /// de la dirección, porque solo quien recibió el token lo conoce.
    pub fn knows(&self, addr: SocketAddr, token: &str) -> bool {
        self.get(addr)
            .is_some_and(|peer| lock(&peer).token.as_deref() == Some(token))
    }

    /// La sesión de `from` se mudó a `to`, que probó su dirección con la
    /// cookie: su par se muda con ella, con su secuencia y lo que tiene en
    /// vuelo (lo que se reenvíe irá a `to`). Sin esto, `to` empezaría un
    /// par nuevo que no conoce el número inicial del cliente, y tiraría
    /// todo lo que este envía. `false` si `from` no tenía par o `to` ya
    /// tiene uno.
    pub fn migrate(&self, from: SocketAddr, to: SocketAddr) -> bool {
        let mut table = lock(&self.table);
        if table.contains_key(&to) {
            return false;
        }
        let Some(peer) = table.remove(&from) else {
            return false;
        };
        table.insert(to, peer);
        true
    }

    /// El despertador que arman los pares y en el que espera el hilo de los
    /// temporizadores.
    pub fn alarm(&self) -> &Alarm {
        &self.alarm
    }

    /// Anota en el despertador el próximo plazo de `peer`, si tiene.
    fn arm(&self, peer: &Peer) {
        if let Some(at) = peer.sender.deadline() {
            self.alarm.arm(at);
        }
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

    /// Pone al día lo que `peer` suma al techo de memoria: lo adelantado
    /// que guarda su receptor y lo que su emisor tiene en vuelo o
    /// esperando. Con el candado del par tomado, así la suma nunca se
    /// desfasa del par. Si la suma pasa el techo, se le pide al flusher que
    /// corte a quien más debe.
    fn settle(&self, peer: &mut Peer) {
        let now = if peer.forgotten {
            0
        } else {
            peer.receiver.ahead_bytes() + peer.sender.held_bytes()
        };
        if self.flusher.account(peer.held, now) {
            self.flusher.request_shedding();
        }
        if now >= peer.held {
            Counters::add(&COUNTERS.reliable_bytes, (now - peer.held) as u64);
        } else {
            COUNTERS
                .reliable_bytes
                .fetch_sub((peer.held - now) as u64, Ordering::Relaxed);
        }
        peer.held = now;
    }

    /// Ofrece una línea (sin `\n`) que sale hacia `addr` a la hora `now`:
    /// ver [`Offer`]. Entra solo si cabe en la ventana del par: lo que no
    /// cabe espera en la cola de salida del usuario, que cuenta para
    /// `--max-queue-bytes` y para el techo, y corta al usuario que no acusa
    /// como corta al cliente TCP que no lee.
    pub fn offer(&self, addr: SocketAddr, line: &str, now: Instant) -> Offer {
        let Some(peer) = self.get(addr) else {
            return Offer::Plain;
        };
        let mut peer = lock(&peer);
        if peer.forgotten {
            return Offer::Plain;
        }
        if peer.closing {
            return Offer::Sent(Vec::new());
        }
        if peer.sender.room() == 0 || self.flusher.room_left() < line.len() {
            return Offer::Full;
        }
        peer.sender.offer(line.to_string());
        // `Gone` se atiende en `tick`: aquí solo no sale nada.
        let packets = peer.poll(now).unwrap_or_default();
        self.settle(&mut peer);
        self.arm(&peer);
        Offer::Sent(packets)
    }

    /// Qué sería el datagrama `seq` de `addr` si llegara ahora (ver
    /// [`Receiver::expects`]); sin par, como para uno nuevo. Solo el hilo
    /// UDP entrega datagramas a los pares, así que la respuesta sigue
    /// valiendo cuando ese mismo hilo llama después a [`Peers::arrived`].
    pub fn expects(&self, addr: SocketAddr, seq: u32, start: Option<u32>) -> Option<bool> {
        match self.get(addr) {
            Some(peer) => lock(&peer).receiver.expects(seq, start),
            None => Receiver::new().expects(seq, start),
        }
    }

    /// Bytes que guarda el par de `addr` (0 si no tiene): lo adelantado, lo
    /// que está en vuelo y lo que espera lugar en la ventana.
    pub fn held(&self, addr: SocketAddr) -> usize {
        self.get(addr).map_or(0, |peer| lock(&peer).held)
    }

    /// La cola de salida de `addr` se cerró: su par deja de aceptar líneas
    /// y se olvida cuando no le quede nada sin acuse.
    pub fn close(&self, addr: SocketAddr) {
        if let Some(peer) = self.get(addr) {
            lock(&peer).closing = true;
        }
    }

    /// Llegó un datagrama confiable de `addr` a la hora `now`. `may_open`:
    /// la dirección está probada, así que si no tenía par se crea (el
    /// primer datagrama de una sesión confiable), salvo que su dirección IP
    /// ya tenga los pares que se le permiten: entonces se descarta sin
    /// respuesta. Sin par y sin prueba, `None`: quien llama pide la prueba
    /// (la cookie).
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
            (None, Packet::Data { .. }) if may_open => match self.open(addr, now) {
                Some(peer) => peer,
                None => return Some(Arrival::default()),
            },
            (None, Packet::Data { .. }) => return None,
        };
        let mut peer = lock(&peer);
        if peer.forgotten {
            return Some(Arrival::default());
        }
        peer.last_heard = now;
        let arrival = match packet {
            Packet::Data {
                seq,
                start,
                payload,
            } => {
                // Lo adelantado se guarda solo si es una línea y cabe bajo
                // el techo; si no, se tira sin acuse y el otro lo reenvía.
                let max_store = self.max_store.min(self.flusher.room_left());
                let (deliver, ack) = peer.receiver.on_data_within(seq, start, payload, max_store);
                Arrival {
                    send: ack.iter().map(Packet::to_line).collect(),
                    deliver,
                }
            }
            Packet::Ack { next, sacked } => {
                if peer.sender.on_ack(next, &sacked, now) {
                    peer.confirmed = true;
                }
                // El acuse pudo abrir lugar en la ventana.
                Arrival {
                    send: peer.poll(now).unwrap_or_default(),
                    deliver: Vec::new(),
                }
            }
        };
        peer.count();
        self.settle(&mut peer);
        self.arm(&peer);
        Some(arrival)
    }

    /// Crea el par de `addr`, si su dirección IP tiene lugar.
    fn open(&self, addr: SocketAddr, now: Instant) -> Option<Arc<Mutex<Peer>>> {
        let mut table = lock(&self.table);
        let same_ip = table.keys().filter(|a| a.ip() == addr.ip()).count();
        if self.per_ip > 0 && same_ip >= self.per_ip && !table.contains_key(&addr) {
            Counters::add(&COUNTERS.reliable_refused, 1);
            return None;
        }
        let peer = table.entry(addr).or_insert_with(|| {
            Arc::new(Mutex::new(Peer {
                sender: Sender::new().giving_up_after(self.silence),
                receiver: Receiver::new(),
                opened: now,
                last_heard: now,
                confirmed: false,
                closing: false,
                forgotten: false,
                counted: [0; 4],
                held: 0,
                token: None,
            }))
        });
        let peer = Arc::clone(peer);
        self.recount(&table);
        Some(peer)
    }

    fn recount(&self, table: &HashMap<SocketAddr, Arc<Mutex<Peer>>>) {
        self.count.store(table.len(), Ordering::Relaxed);
        COUNTERS
            .reliable_pairs
            .store(table.len() as u64, Ordering::Relaxed);
    }

    /// Revisa los temporizadores a la hora `now`: lo vencido se
    /// retransmite. Se olvidan: el par que agotó sus reintentos (y se
    /// anuncia en [`Tick::gone`]); el que no acusó nada en [`PROBATION`];
    /// el cerrado sin nada en vuelo; y el que no envió nada en `idle` y no
    /// espera ningún acuse (una sesión que terminó).
    pub fn tick(&self, now: Instant, idle: Duration) -> Tick {
        let peers: Vec<(SocketAddr, Arc<Mutex<Peer>>)> = lock(&self.table)
            .iter()
            .map(|(addr, peer)| (*addr, Arc::clone(peer)))
            .collect();
        let mut tick = Tick::default();
        let mut forget = Vec::new();
        for (addr, peer) in peers {
            let mut peer = lock(&peer);
            let on_probation =
                !peer.confirmed && now.saturating_duration_since(peer.opened) >= PROBATION;
            let quiet = peer.sender.is_idle()
                && (peer.closing || now.saturating_duration_since(peer.last_heard) >= idle);
            let lines = if on_probation || quiet {
                None
            } else {
                peer.poll(now)
            };
            match lines {
                Some(lines) => {
                    tick.send.extend(lines.into_iter().map(|line| (addr, line)));
                    if let Some(at) = peer.sender.deadline() {
                        tick.next = Some(tick.next.map_or(at, |next| next.min(at)));
                    }
                    continue;
                }
                None if !(on_probation || quiet) => tick.gone.push((addr, peer.token.clone())),
                None => {}
            }
            // Olvidado: lo que guardaba sale del techo.
            peer.forgotten = true;
            self.settle(&mut peer);
            forget.push(addr);
        }
        if !forget.is_empty() {
            let mut table = lock(&self.table);
            for addr in forget {
                table.remove(&addr);
            }
            self.recount(&table);
        }
        tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extra::laboratorio::reliable::WINDOW;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// El plazo de un par nuevo queda armado en el despertador: su sonda
    /// vence aunque nadie más envíe nada.
    #[test]
    fn a_line_offered_to_a_peer_arms_its_probe() {
        let peers = peers(0, 0);
        let t0 = Instant::now();
        peers
            .arrived(addr(1), data(0, ":login ana clave"), true, t0)
            .expect("par nuevo");
        assert_eq!(
            peers.alarm.planned(),
            None,
            "sin nada en vuelo, nada armado"
        );
        assert!(matches!(peers.offer(addr(1), "hola", t0), Offer::Sent(_)));
        assert!(peers.alarm.planned().is_some_and(|at| at > t0));
    }

    /// Un datagrama de un cliente que empezó a numerar en 0 y todavía no
    /// recibió acuses.
    fn data(seq: u32, payload: &str) -> Packet {
        Packet::Data {
            seq,
            start: Some(0),
            payload: payload.into(),
        }
    }

    /// Ofrece `text` a `addr` y devuelve el único datagrama que sale y su
    /// número (el servidor empieza a numerar al azar).
    fn offered(peers: &Peers, addr: SocketAddr, text: &str, now: Instant) -> (u32, String) {
        let Offer::Sent(lines) = peers.offer(addr, text, now) else {
            panic!("no salió");
        };
        assert_eq!(lines.len(), 1, "{lines:?}");
        let Some(Packet::Data { seq, payload, .. }) = Packet::parse(&lines[0]) else {
            panic!("no es un datagrama de datos: {lines:?}");
        };
        assert_eq!(payload, text);
        (seq, lines[0].clone())
    }

    fn ack(next: u32) -> Packet {
        Packet::Ack {
            next,
            sacked: vec![],
        }
    }

    /// Una tabla con un techo de `ceiling` bytes, `per_ip` pares por
    /// dirección y líneas de a lo sumo 4096 bytes.
    fn peers(ceiling: usize, per_ip: usize) -> Peers {
        let flusher = Flusher::start(ceiling).expect("flusher");
        Peers::new(flusher, per_ip, 4096, Duration::from_secs(30))
    }

    const IDLE: Duration = Duration::from_secs(300);

    #[test]
    fn a_pair_opens_only_for_a_proven_address() {
        let peers = peers(0, 0);
        let now = Instant::now();
        assert_eq!(
            peers.arrived(addr(1), data(0, ":login a b"), false, now),
            None
        );
        assert!(peers.is_empty(), "sin prueba no hay estado");
        assert_eq!(peers.offer(addr(1), "hola", now), Offer::Plain);
        let arrival = peers.arrived(addr(1), data(0, ":login a b"), true, now);
        assert_eq!(
            arrival,
            Some(Arrival {
                send: vec![":ack 1".into()],
                deliver: vec![":login a b".into()],
            })
        );
        offered(&peers, addr(1), "hola", now);
        // Lo repetido se acusa otra vez pero no se entrega dos veces.
        let again = peers.arrived(addr(1), data(0, ":login a b"), false, now);
        assert_eq!(again.map(|a| a.deliver), Some(vec![]));
    }

    #[test]
    fn lines_to_a_pair_are_numbered_and_retransmitted_until_acknowledged() {
        let peers = peers(0, 0);
        let t0 = Instant::now();
        peers.arrived(addr(2), data(0, ":ping"), true, t0);
        let (seq, pong) = offered(&peers, addr(2), "pong", t0);
        assert!(
            peers
                .tick(t0 + Duration::from_millis(500), IDLE)
                .send
                .is_empty()
        );
        let late = peers.tick(t0 + Duration::from_secs(1), IDLE);
        assert_eq!(late.send, vec![(addr(2), pong)]);
        peers.arrived(addr(2), ack(seq + 1), false, t0);
        assert!(
            peers
                .tick(t0 + Duration::from_secs(10), IDLE)
                .send
                .is_empty()
        );
    }

    #[test]
    fn a_pair_that_does_not_acknowledge_holds_at_most_its_window() {
        let peers = peers(0, 0);
        let now = Instant::now();
        peers.arrived(addr(4), data(0, ":ping"), true, now);
        let line = "x".repeat(4000);
        let taken = (0..WINDOW + 10)
            .filter(|_| matches!(peers.offer(addr(4), &line, now), Offer::Sent(_)))
            .count();
        assert_eq!(taken, WINDOW, "lo demás queda en la cola del usuario");
        assert_eq!(peers.offer(addr(4), &line, now), Offer::Full);
    }

    #[test]
    fn what_pairs_hold_counts_toward_the_ceiling_and_is_released() {
        // Un techo de 64 KiB: lo adelantado de 300 pares no puede pasarlo.
        let ceiling = 64 * 1024;
        let peers = peers(ceiling, 0);
        let now = Instant::now();
        for port in 1..=300 {
            peers.arrived(addr(port), data(0, ":ping"), true, now);
            // Todos adelantados: falta el 1.
            for seq in 2..200 {
                peers.arrived(addr(port), data(seq, &"y".repeat(4096)), false, now);
            }
        }
        let held = peers.flusher.parked_bytes();
        assert!(held <= ceiling, "{held} bytes guardados");
        assert!(held > 0);
        // Ninguno acusó nada: pasado el plazo de prueba, se olvidan todos.
        let tick = peers.tick(now + PROBATION, IDLE);
        assert!(tick.gone.is_empty());
        assert!(peers.is_empty());
        assert_eq!(peers.flusher.parked_bytes(), 0);
    }

    #[test]
    fn a_pair_that_acknowledges_is_kept_past_its_probation() {
        let peers = peers(0, 0);
        let now = Instant::now();
        peers.arrived(addr(5), data(0, ":ping"), true, now);
        let (seq, _) = offered(&peers, addr(5), "pong", now);
        peers.arrived(addr(5), ack(seq + 1), false, now);
        peers.tick(now + PROBATION, IDLE);
        assert!(!peers.is_empty());
    }

    #[test]
    fn an_address_opens_at_most_its_share_of_pairs() {
        let peers = peers(0, 2);
        let now = Instant::now();
        for port in 1..=3 {
            peers.arrived(addr(port), data(0, ":ping"), true, now);
        }
        assert_eq!(peers.offer(addr(3), "pong", now), Offer::Plain, "sin par");
        let other = SocketAddr::from(([127, 0, 0, 2], 1));
        peers.arrived(other, data(0, ":ping"), true, now);
        assert!(matches!(peers.offer(other, "pong", now), Offer::Sent(_)));
    }

    #[test]
    fn a_closed_pair_is_forgotten_once_nothing_is_in_flight() {
        let peers = peers(0, 0);
        let now = Instant::now();
        peers.arrived(addr(6), data(0, ":ping"), true, now);
        let (seq, _) = offered(&peers, addr(6), "bye", now);
        peers.close(addr(6));
        peers.tick(now, IDLE);
        assert!(!peers.is_empty(), "la despedida todavía espera su acuse");
        peers.arrived(addr(6), ack(seq + 1), false, now);
        peers.tick(now, IDLE);
        assert!(peers.is_empty());
    }

    #[test]
    fn a_pair_that_never_acknowledges_is_declared_gone_and_forgotten() {
        let peers = peers(0, 0);
        let mut now = Instant::now();
        peers.arrived(addr(3), data(0, ":ping"), true, now);
        // Acusó una línea: no lo olvida el plazo de prueba sino los
        // reintentos de la siguiente, que nunca acusa.
        let (seq, _) = offered(&peers, addr(3), "pong", now);
        peers.arrived(addr(3), ack(seq + 1), false, now);
        peers.remember_token(addr(3), "T0KEN");
        peers.offer(addr(3), "¿sigues ahí?", now);
        let idle = Duration::from_secs(3600);
        let mut gone = Vec::new();
        let silent_since = now;
        while gone.is_empty() && now < silent_since + Duration::from_secs(60) {
            now += Duration::from_secs(1);
            gone.extend(peers.tick(now, idle).gone);
        }
        assert_eq!(gone, vec![(addr(3), Some("T0KEN".to_string()))]);
        assert_eq!(
            now - silent_since,
            Duration::from_secs(30),
            "el silencio que se tolera"
        );
        assert!(peers.is_empty());
    }

    /// Una sesión que se muda a otra dirección probada se lleva su par: lo
    /// que el cliente envía desde la nueva, sin el número inicial (ya lo
    /// dio), sigue en la misma secuencia.
    #[test]
    fn a_moved_session_keeps_its_sequence() {
        let peers = peers(0, 0);
        let now = Instant::now();
        let arrival = peers
            .arrived(addr(6), data(0, "uno"), true, now)
            .expect("par");
        assert_eq!(arrival.deliver, ["uno"]);
        let next = Packet::Data {
            seq: 1,
            start: None,
            payload: "dos".into(),
        };
        assert!(peers.migrate(addr(6), addr(7)));
        assert_eq!(peers.held(addr(6)), 0, "la dirección vieja ya no tiene par");
        let arrival = peers
            .arrived(addr(7), next, false, now)
            .expect("el par mudado");
        assert_eq!(arrival.deliver, ["dos"], "la misma secuencia");
        assert!(!peers.migrate(addr(6), addr(8)), "sin par que mudar");
    }
}
