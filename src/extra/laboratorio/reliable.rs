//! Entrega confiable sobre UDP, hecha a mano: lo que TCP hace
//! dentro del kernel, escrito aquí para leerlo. UDP puede perder, duplicar
//! y desordenar datagramas; con números de secuencia, acuses y
//! retransmisiones, quien recibe obtiene cada línea una vez y en orden.
//!
//! Son dos máquinas de estados puras, sin sockets ni reloj propio: cada
//! método recibe `now` y devuelve qué enviar o qué entregar. Así se prueban
//! con cualquier patrón de pérdidas (ver las pruebas de propiedades al
//! final) y se leen como una lección:
//!
//! - [`Sender`]: numera cada línea y guarda las que no tienen acuse en una
//!   ventana. Recupera una pérdida en idas y vueltas, no en segundos, como
//!   QUIC (RFC 9002 §6) y la retransmisión rápida de TCP (RFC 5681 §3.2):
//!   un datagrama se da por perdido cuando llegaron [`PACKET_THRESHOLD`]
//!   enviados después de él, o uno solo y pasaron 9/8 de la ida y vuelta;
//!   si nada responde (lo último enviado se perdió, o su acuse), una sonda
//!   (*probe timeout*) tras SRTT + 4 × RTTVAR reenvía lo más viejo y
//!   provoca un acuse. La ida y vuelta se mide como TCP ([`RttEstimator`],
//!   RFC 6298). Tras [`MAX_RETRIES`] sondas seguidas sin acuse da al otro
//!   por ido.
//! - [`Receiver`]: entrega en orden, guarda lo que llega adelantado, tira lo
//!   repetido y responde siempre con un acuse acumulativo ("tengo todo hasta
//!   N - 1"), como el número de ACK de TCP (RFC 9293 §3.4), más la lista de
//!   lo que tiene adelantado: un acuse selectivo, como SACK (RFC 2018).
//!   Con él, el emisor retransmite solo los huecos (*selective repeat*).
//!
//! Lo que **no** hace, y TCP sí: control de congestión (RFC 5681: TCP
//! achica su ventana al perder, para no saturar la red) y control de flujo
//! con una ventana que anuncia el receptor: aquí la ventana es fija
//! ([`WINDOW`]). Y como se entrega en orden, una línea perdida retiene a
//! las que llegaron detrás hasta que llega su retransmisión (el bloqueo de
//! cabeza de fila, que TCP también sufre).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// El plazo de la sonda antes de medir nada: 1 s, el plazo inicial de
/// RFC 6298 §2.1 (RFC 9002 §6.2.2 llega a lo mismo: 333 ms de ida y vuelta
/// supuesta, más cuatro veces la mitad).
pub const INITIAL_PTO: Duration = Duration::from_secs(1);

/// El tic del reloj, que acota por abajo la variación en el plazo de la
/// sonda y la demora del umbral de tiempo: 1 ms, el `kGranularity` de
/// RFC 9002 §6.1.2. En el loopback, donde la ida y vuelta es de décimas de
/// milisegundo, es lo que más pesa.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// Cuántos datagramas enviados después de uno tienen que llegar para darlo
/// por perdido: 3, el `kPacketThreshold` de RFC 9002 §6.1.1 y los tres
/// acuses repetidos de TCP (RFC 5681 §3.2). Menos confundiría el desorden
/// con una pérdida.
pub const PACKET_THRESHOLD: u64 = 3;

/// Cuántos huecos reenvía una sonda: los dos más viejos, como los "uno o
/// dos datagramas" de RFC 9002 §6.2.4. Su acuse alcanza para que los
/// umbrales recuperen el resto. Reenviar todos los huecos se probó en el
/// enlace simulado de las pruebas: con 30 % de pérdida, una de las diez
/// semillas bajó del 38 % al 12 % del rendimiento sin pérdida.
const PROBES: usize = 2;

/// El plazo máximo de la sonda, por más que se duplique: 60 s (el tope
/// que RFC 6298 §2.5 permite para el plazo de TCP).
pub const MAX_PTO: Duration = Duration::from_secs(60);

/// Sondas seguidas sin ningún acuse tras las que el otro se da por ido:
/// 15, como los reintentos de Linux para una conexión establecida
/// (`tcp_retries2`; RFC 9293 §3.8.3 deja el número a cada
/// implementación). Con el plazo duplicándose desde una ida y vuelta son
/// más de un minuto en el loopback. Menos es frágil: con 30 % de pérdida
/// en cada sentido, una retransmisión y su acuse llegan juntos con
/// probabilidad 0,49, y fallan 9 veces seguidas con probabilidad
/// 0,51⁹ ≈ 0,2 % por hueco.
pub const MAX_RETRIES: u32 = 15;

/// Datagramas sin acuse que el emisor deja en vuelo a la vez.
pub const WINDOW: usize = 32;

/// Cuántos números adelantados lleva, como mucho, un acuse selectivo (el
/// datagrama no crece sin límite).
pub const MAX_SACKED: usize = 64;

/// La palabra de un datagrama de datos y la de un acuse.
const SEQ: &str = ":seq";
const ACK: &str = ":ack";

/// Un datagrama del modo confiable, en texto: `:seq <n> <línea>` (o
/// `:seq <n>/<inicial> <línea>` hasta el primer acuse) o
/// `:ack <next> [<n> ...]`. Empiezan con `:` como los comandos del chat: ninguna
/// línea de chat de un cliente sin el modo confiable se confunde con uno
/// (un texto que empieza con `:` y no es un comando es un error), y en una
/// captura se leen solos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Datos: el número de secuencia de la línea y la línea.
    Data {
        /// Número de secuencia.
        seq: u32,
        /// El número inicial de la secuencia del emisor (la primera línea
        /// lleva ese número), mientras el emisor no sepa que el receptor
        /// lo conoce: hasta su primer acuse válido. Con él, el receptor
        /// sabe desde dónde contar aunque lo primero que le llegue sea la
        /// tercera línea, y tira lo que trae otro número inicial (un
        /// datagrama viejo de una sesión anterior).
        start: Option<u32>,
        /// La línea, sin `\n`.
        payload: String,
    },
    /// Acuse acumulativo: llegó todo lo anterior a `next`; y selectivo:
    /// también llegaron los de `sacked` (posteriores a `next`, a lo sumo
    /// [`MAX_SACKED`]).
    Ack {
        /// El próximo número que el receptor espera.
        next: u32,
        /// Los que el receptor ya tiene adelantados, en orden.
        sacked: Vec<u32>,
    },
}

impl Packet {
    /// El texto del datagrama.
    pub fn to_line(&self) -> String {
        match self {
            Packet::Data {
                seq,
                start: None,
                payload,
            } => format!("{SEQ} {seq} {payload}"),
            Packet::Data {
                seq,
                start: Some(start),
                payload,
            } => format!("{SEQ} {seq}/{start} {payload}"),
            Packet::Ack { next, sacked } => {
                let mut line = format!("{ACK} {next}");
                for seq in sacked {
                    line.push_str(&format!(" {seq}"));
                }
                line
            }
        }
    }

    /// Lee un datagrama; `None` si no es del modo confiable.
    pub fn parse(line: &str) -> Option<Packet> {
        let (kind, rest) = line.split_once(' ')?;
        match kind {
            SEQ => {
                let (numbers, payload) = rest.split_once(' ').unwrap_or((rest, ""));
                let (seq, start) = match numbers.split_once('/') {
                    Some((seq, start)) => (seq, Some(start.parse().ok()?)),
                    None => (numbers, None),
                };
                Some(Packet::Data {
                    seq: seq.parse().ok()?,
                    start,
                    payload: payload.to_string(),
                })
            }
            ACK => {
                let mut numbers = rest.split(' ').map(str::parse::<u32>);
                let next = numbers.next()?.ok()?;
                let sacked = numbers
                    .take(MAX_SACKED)
                    .collect::<Result<Vec<u32>, _>>()
                    .ok()?;
                Some(Packet::Ack { next, sacked })
            }
            _ => None,
        }
    }
}

/// El estimador de la ida y vuelta de RFC 6298 §2: un promedio suavizado
/// (SRTT) y su variación (RTTVAR), con los que se calculan el plazo de la
/// sonda ([`RttEstimator::pto`]) y la demora tras la que un datagrama
/// adelantado por otros se da por perdido ([`RttEstimator::loss_delay`]).
#[derive(Debug, Clone, Default)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// La última medición (RFC 9002 §5.1 la usa junto a SRTT: si la red se
    /// volvió lenta de golpe, el promedio tarda en enterarse).
    latest: Duration,
}

impl RttEstimator {
    /// El promedio suavizado, si ya se midió algo.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Una ida y vuelta medida `r`, de un datagrama que no se retransmitió
    /// (algoritmo de Karn, RFC 6298 §3: de uno retransmitido no se sabe a
    /// cuál envío responde el acuse).
    pub fn sample(&mut self, r: Duration) {
        self.latest = r;
        match self.srtt {
            // §2.2: la primera medición.
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            // §2.3: las siguientes, con alfa = 1/8 y beta = 1/4.
            Some(srtt) => {
                let error = srtt.abs_diff(r);
                self.rttvar = self.rttvar * 3 / 4 + error / 4;
                self.srtt = Some(srtt * 7 / 8 + r / 8);
            }
        }
    }

    /// El plazo de la sonda sin duplicar (RFC 9002 §6.2.1): SRTT +
    /// max(4 × RTTVAR, [`GRANULARITY`]). Antes de medir nada,
    /// [`INITIAL_PTO`].
    pub fn pto(&self) -> Duration {
        match self.srtt {
            Some(srtt) => srtt + (self.rttvar * 4).max(GRANULARITY),
            None => INITIAL_PTO,
        }
    }

    /// Cuánto después de enviado se da por perdido un datagrama cuando ya
    /// llegó uno enviado después de él (RFC 9002 §6.1.2): 9/8 de la ida y
    /// vuelta (la mayor entre SRTT y la última), para tolerar un poco de
    /// desorden. Antes de medir nada, [`INITIAL_PTO`].
    pub fn loss_delay(&self) -> Duration {
        match self.srtt {
            Some(srtt) => (srtt.max(self.latest) * 9 / 8).max(GRANULARITY),
            None => INITIAL_PTO,
        }
    }
}

/// Una línea enviada que espera su acuse.
#[derive(Debug, Clone)]
struct InFlight {
    seq: u32,
    payload: String,
    /// Cuándo salió su último envío.
    sent_at: Instant,
    /// El número de envío de su último envío (ver [`Sender::sends`]).
    send: u64,
    retransmitted: bool,
    /// El receptor ya lo tiene (un acuse selectivo): no se retransmite.
    sacked: bool,
    /// Se dio por perdido: sale otra vez en el próximo [`Sender::poll`].
    lost: bool,
}

/// El emisor del modo confiable.
#[derive(Debug, Clone)]
pub struct Sender {
    /// El número de la primera línea: al azar (ver [`Sender::new`]).
    start: u32,
    /// El receptor ya acusó algo válido: conoce `start`, y los datagramas
    /// ya no lo llevan.
    synced: bool,
    next_seq: u32,
    /// Las enviadas sin acuse, en orden de número.
    in_flight: VecDeque<InFlight>,
    /// Las que esperan lugar en la ventana.
    waiting: VecDeque<String>,
    rtt: RttEstimator,
    /// Envíos hechos, contando cada retransmisión: el número de envío
    /// ordena los datagramas por *cuándo* salieron, no por su número de
    /// secuencia, que se repite al retransmitir. Es el número de paquete
    /// de QUIC (RFC 9000 §12.3), que nunca se repite; con él, "llegaron
    /// tres enviados después" vale también para un hueco ya reenviado.
    sends: u64,
    /// El mayor número de envío que el receptor ya acusó.
    largest_acked: Option<u64>,
    /// Cuándo se envió el último datagrama: de ahí cuenta la sonda.
    last_send: Option<Instant>,
    /// Sondas seguidas sin ningún acuse nuevo: cada una duplica el plazo de
    /// la siguiente, y tras más de `max_retries` el otro se da por ido.
    probes: u32,
    /// Cuántas sondas seguidas se toleran antes de dar al otro por ido.
    max_retries: u32,
    /// Cuánto silencio se tolera, si se puso un tope: tanto tiempo con algo
    /// en vuelo y ningún acuse nuevo, y el otro se da por ido.
    silence: Option<Duration>,
    /// Desde cuándo se espera un acuse: el primer envío con nada en vuelo,
    /// o el último acuse que reconoció algo nuevo. `None` sin nada en
    /// vuelo.
    waiting_since: Option<Instant>,
    /// Retransmisiones hechas desde el principio.
    pub retransmissions: u64,
    /// Acuses descartados por reconocer números que nunca se enviaron.
    pub bogus_acks: u64,
}

/// Lo que el emisor pide tras [`Sender::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Enviar estos datagramas (quizá ninguno).
    Send(Vec<Packet>),
    /// El otro no responde: más de `max_retries` sondas seguidas sin acuse,
    /// o el silencio que se toleraba ([`Sender::giving_up_after`]).
    Gone,
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}

/// Los números iniciales se eligen por debajo de este: una sesión tendría
/// que enviar más de 2³¹ líneas para que sus números den la vuelta, así
/// que se comparan como enteros comunes.
pub const START_BELOW: u32 = 1 << 31;

impl Sender {
    /// Un emisor sin nada enviado, que numera desde un número al azar
    /// (como TCP, RFC 6528): un datagrama de una sesión anterior, o uno que
    /// un tercero inventa, no cae en la secuencia de esta.
    pub fn new() -> Sender {
        Sender::starting_at(rand::random::<u32>() % START_BELOW)
    }

    /// Un emisor cuya primera línea lleva el número `start` (las pruebas
    /// lo fijan para leer los datagramas).
    pub fn starting_at(start: u32) -> Sender {
        Sender {
            start,
            synced: false,
            next_seq: start,
            in_flight: VecDeque::new(),
            waiting: VecDeque::new(),
            rtt: RttEstimator::default(),
            sends: 0,
            largest_acked: None,
            last_send: None,
            probes: 0,
            max_retries: MAX_RETRIES,
            silence: None,
            waiting_since: None,
            retransmissions: 0,
            bogus_acks: 0,
        }
    }

    /// Un emisor que tolera `max_retries` sondas seguidas sin acuse (las
    /// pruebas usan `u32::MAX`: nunca se rinde).
    pub fn with_max_retries(max_retries: u32) -> Sender {
        Sender {
            max_retries,
            ..Sender::new()
        }
    }

    /// El mismo emisor, que además da al otro por ido tras `silence` con
    /// algo en vuelo y ningún acuse nuevo: un tiempo, no una cuenta de
    /// sondas, porque las sondas se duplican desde una ida y vuelta que
    /// cambia con la red (`--reliable-timeout-secs` en el servidor).
    pub fn giving_up_after(self, silence: Duration) -> Sender {
        Sender {
            silence: Some(silence),
            ..self
        }
    }

    /// El número inicial, mientras el receptor no lo conozca.
    fn start_if_needed(&self) -> Option<u32> {
        (!self.synced).then_some(self.start)
    }

    /// Encola una línea para enviar.
    pub fn offer(&mut self, payload: String) {
        self.waiting.push_back(payload);
    }

    /// Cuántas líneas esperan lugar en la ventana.
    pub fn backlog(&self) -> usize {
        self.waiting.len()
    }

    /// Cuántas líneas más caben antes de llenar la ventana: las que ya
    /// esperan lugar cuentan, así quien ofrece de a una puede dejar de
    /// ofrecer (y guardar el resto en su propia cola, con su límite).
    pub fn room(&self) -> usize {
        WINDOW.saturating_sub(self.in_flight.len() + self.waiting.len())
    }

    /// Bytes de las líneas en vuelo y de las que esperan lugar.
    pub fn held_bytes(&self) -> usize {
        let flying: usize = self.in_flight.iter().map(|f| f.payload.len()).sum();
        flying + self.waiting.iter().map(String::len).sum::<usize>()
    }

    /// `true` si no queda nada por enviar ni sin acuse.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.waiting.is_empty()
    }

    /// El estimador de la ida y vuelta (para mostrar SRTT).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// Cuándo hay que volver a llamar a [`Sender::poll`] aunque no llegue
    /// nada; `None` si no hay nada sin acuse. Es el primero de tres
    /// momentos, en este orden de preferencia (RFC 9002 §6.2.1: mientras
    /// corre el de pérdida, la sonda espera):
    /// - ya, si hay un hueco dado por perdido que todavía no salió;
    /// - el temporizador de pérdida: cuando un datagrama que tiene otros
    ///   enviados después ya acusados cumpla [`RttEstimator::loss_delay`];
    /// - la sonda (*probe timeout*): [`RttEstimator::pto`] después del
    ///   último envío, duplicado por cada sonda seguida sin acuse.
    pub fn deadline(&self) -> Option<Instant> {
        let pending = self.in_flight.iter().filter(|f| !f.sacked);
        if let Some(lost) = pending.clone().filter(|f| f.lost).map(|f| f.sent_at).min() {
            return Some(lost);
        }
        if let Some(largest) = self.largest_acked {
            let delay = self.rtt.loss_delay();
            let waiting = pending.clone().filter(|f| f.send < largest);
            if let Some(at) = waiting.map(|f| f.sent_at + delay).min() {
                return Some(at);
            }
        }
        pending.clone().next()?;
        let backoff = 2u32.saturating_pow(self.probes.min(16));
        let pto = self.rtt.pto().saturating_mul(backoff).min(MAX_PTO);
        let probe = self.last_send? + pto;
        Some(self.silence_ends().map_or(probe, |ends| ends.min(probe)))
    }

    /// Cuándo se da al otro por ido si no acusa nada antes, con un tope de
    /// silencio y algo en vuelo.
    fn silence_ends(&self) -> Option<Instant> {
        Some(self.waiting_since? + self.silence?)
    }

    /// Lo que hay que enviar a la hora `now`: los huecos dados por
    /// perdidos, una sonda si venció su plazo, y las líneas nuevas que
    /// caben en la ventana.
    pub fn poll(&mut self, now: Instant) -> Step {
        let silent = self.silence_ends().is_some_and(|ends| now >= ends);
        if silent && !self.in_flight.is_empty() {
            return Step::Gone;
        }
        self.detect_lost(now);
        let lost_pending = self.in_flight.iter().any(|f| f.lost && !f.sacked);
        if !lost_pending && self.deadline().is_some_and(|at| now >= at) {
            // Venció la sonda: nada acusó lo último enviado. Salen los
            // huecos más viejos ([`PROBES`]) para provocar un acuse; con él
            // (y sus acuses selectivos) el resto se recupera por los
            // umbrales, en idas y vueltas, sin esperar más sondas.
            self.probes += 1;
            if self.probes > self.max_retries {
                return Step::Gone;
            }
            for probe in self.in_flight.iter_mut().filter(|f| !f.sacked).take(PROBES) {
                probe.lost = true;
            }
        }
        let mut out = self.retransmit_lost(now);
        while self.in_flight.len() < WINDOW {
            let Some(payload) = self.waiting.pop_front() else {
                break;
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            out.push(Packet::Data {
                seq,
                start: self.start_if_needed(),
                payload: payload.clone(),
            });
            let send = self.next_send(now);
            self.in_flight.push_back(InFlight {
                seq,
                payload,
                sent_at: now,
                send,
                retransmitted: false,
                sacked: false,
                lost: false,
            });
        }
        Step::Send(out)
    }

    /// Reenvía ya todo lo que está en vuelo sin acuse selectivo, sin
    /// esperar: para cuando se sabe que lo enviado no pudo llegar (el
    /// servidor pidió probar la dirección con una cookie y tiró los
    /// datagramas que no la traían). No es una sonda, así que no cuenta
    /// para `max_retries`.
    pub fn resend_now(&mut self, now: Instant) -> Vec<Packet> {
        for flight in self.in_flight.iter_mut().filter(|f| !f.sacked) {
            flight.lost = true;
        }
        self.retransmit_lost(now)
    }

    /// El número del próximo envío, que sale a la hora `now`.
    fn next_send(&mut self, now: Instant) -> u64 {
        self.sends += 1;
        self.last_send = Some(now);
        self.waiting_since.get_or_insert(now);
        self.sends
    }

    /// Los huecos dados por perdidos, reenviados a la hora `now` con un
    /// número de envío nuevo y marcados como retransmitidos: de ellos ya
    /// no se mide la ida y vuelta (Karn).
    fn retransmit_lost(&mut self, now: Instant) -> Vec<Packet> {
        let start = self.start_if_needed();
        let lost: Vec<usize> = (0..self.in_flight.len())
            .filter(|&i| self.in_flight[i].lost && !self.in_flight[i].sacked)
            .collect();
        let mut out = Vec::with_capacity(lost.len());
        for i in lost {
            let send = self.next_send(now);
            let flight = &mut self.in_flight[i];
            flight.lost = false;
            flight.retransmitted = true;
            flight.sent_at = now;
            flight.send = send;
            self.retransmissions += 1;
            out.push(Packet::Data {
                seq: flight.seq,
                start,
                payload: flight.payload.clone(),
            });
        }
        out
    }

    /// Da por perdido lo que tiene otros enviados después ya acusados, si
    /// son al menos [`PACKET_THRESHOLD`] (el umbral de paquetes, como los
    /// tres acuses repetidos de TCP, RFC 5681 §3.2) o si pasó
    /// [`RttEstimator::loss_delay`] desde su envío (el umbral de tiempo,
    /// RFC 9002 §6.1.2: uno solo adelantado también cuenta, con tal de
    /// esperar un poco por si solo vino en desorden).
    fn detect_lost(&mut self, now: Instant) {
        let Some(largest) = self.largest_acked else {
            return;
        };
        let delay = self.rtt.loss_delay();
        for flight in &mut self.in_flight {
            if flight.sacked || flight.lost || flight.send >= largest {
                continue;
            }
            let by_count = largest - flight.send >= PACKET_THRESHOLD;
            let by_time = now >= flight.sent_at + delay;
            flight.lost = by_count || by_time;
        }
    }

    /// Llegó un acuse: se olvida todo lo anterior a `next` y se marca lo de
    /// `sacked`, que ya no se retransmite. De lo que se reconoce por
    /// primera vez se mide la ida y vuelta (salvo de lo retransmitido), y
    /// con lo reconocido se busca lo que quedó atrás y ya se puede dar por
    /// perdido ([`Sender::poll`] lo reenvía).
    ///
    /// Un acuse que reconoce un número que este emisor todavía no envió no
    /// puede venir del receptor: se descarta entero (y se cuenta en
    /// [`Sender::bogus_acks`]). Devuelve `true` si el acuse reconoció algo
    /// por primera vez.
    pub fn on_ack(&mut self, next: u32, sacked: &[u32], now: Instant) -> bool {
        let sent = self.start..self.next_seq;
        if next < self.start || next > self.next_seq || sacked.iter().any(|s| !sent.contains(s)) {
            self.bogus_acks += 1;
            return false;
        }
        // Un acuse válido: el receptor conoce el número inicial.
        self.synced = true;
        // Una sola medición por acuse, la del más reciente de lo que este
        // acuse reconoce por primera vez: es el que más probablemente lo
        // causó (el receptor acusa cada datagrama). Medir cada uno daría
        // idas y vueltas infladas cuando se perdieron acuses: lo que llegó
        // hace rato y recién ahora se reconoce no tardó tanto en llegar
        // (TCP lo resuelve con marcas de tiempo, RFC 7323 §4).
        let mut freshest: Option<Duration> = None;
        let mut largest: Option<u64> = None;
        let mut news = |flight: &InFlight| {
            largest = largest.max(Some(flight.send));
            if !flight.retransmitted {
                let took = now.saturating_duration_since(flight.sent_at);
                freshest = Some(freshest.map_or(took, |f| f.min(took)));
            }
        };
        while self.in_flight.front().is_some_and(|f| f.seq < next) {
            let Some(acked) = self.in_flight.pop_front() else {
                break;
            };
            if !acked.sacked {
                news(&acked);
            }
        }
        for flight in &mut self.in_flight {
            if !flight.sacked && sacked.binary_search(&flight.seq).is_ok() {
                news(flight);
                flight.sacked = true;
            }
        }
        if let Some(took) = freshest {
            self.rtt.sample(took);
        }
        let Some(largest) = largest else {
            return false;
        };
        // El otro responde: las sondas seguidas vuelven a cero, y el
        // silencio se cuenta desde ahora (o no se cuenta, sin nada en vuelo).
        self.probes = 0;
        self.waiting_since = (!self.in_flight.is_empty()).then_some(now);
        self.largest_acked = self.largest_acked.max(Some(largest));
        self.detect_lost(now);
        true
    }
}

/// El receptor del modo confiable.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    /// El número inicial del emisor, desde el primer datagrama que lo
    /// trajo; `None` hasta entonces (sin él no se toma nada).
    start: Option<u32>,
    /// El próximo número que se espera.
    next: u32,
    /// Lo que llegó adelantado, hasta que llegue lo que falta: a lo sumo
    /// [`WINDOW`] - 1 datagramas, los que un emisor honesto puede tener en
    /// vuelo delante del que falta.
    ahead: BTreeMap<u32, String>,
    /// La suma de los largos de `ahead`, en bytes.
    ahead_bytes: usize,
    /// Datagramas repetidos descartados desde el principio.
    pub duplicates: u64,
    /// Datagramas adelantados que no se guardaron ni se acusaron (fuera de
    /// la ventana, o más largos de lo que se podía guardar).
    pub refused: u64,
}

impl Receiver {
    /// Un receptor que todavía no conoce el número inicial del emisor.
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// Bytes guardados de lo que llegó adelantado.
    pub fn ahead_bytes(&self) -> usize {
        self.ahead_bytes
    }

    /// Qué sería el datagrama `seq` (con el número inicial `start`, si lo
    /// trae) si llegara ahora: `Some(true)` si es el que se espera (se
    /// entregaría ya), `Some(false)` si es nuevo y adelantado dentro de la
    /// ventana (se guardaría), `None` si es repetido, cae fuera de la
    /// ventana o es de otra secuencia (no se tomaría). Para quien tiene que
    /// decidir antes de acusar si acepta la línea.
    pub fn expects(&self, seq: u32, start: Option<u32>) -> Option<bool> {
        let next = self.next_for(start)?;
        if seq < next || self.ahead.contains_key(&seq) {
            return None;
        }
        let ahead = seq - next;
        (ahead < WINDOW as u32).then_some(ahead == 0)
    }

    /// El próximo número esperado para un datagrama que trae `start`:
    /// `None` si es de otra secuencia (otro número inicial que el ya
    /// conocido) o si no se conoce ninguno y no lo trae.
    fn next_for(&self, start: Option<u32>) -> Option<u32> {
        match (self.start, start) {
            (Some(known), Some(start)) if known != start => None,
            (Some(_), _) => Some(self.next),
            (None, Some(start)) => Some(start),
            (None, None) => None,
        }
    }

    /// Llegó `seq`: devuelve las líneas que ya se pueden entregar, en orden,
    /// y el acuse que hay que responder. Como [`Receiver::on_data_within`]
    /// sin tope para guardar (el cliente: su único otro extremo es el
    /// servidor que eligió).
    pub fn on_data(
        &mut self,
        seq: u32,
        start: Option<u32>,
        payload: String,
    ) -> (Vec<String>, Option<Packet>) {
        self.on_data_within(seq, start, payload, usize::MAX)
    }

    /// Llegó `seq`: devuelve las líneas que ya se pueden entregar, en orden,
    /// y el acuse que hay que responder, o `None` si el datagrama se
    /// descartó sin acusarlo.
    ///
    /// Lo repetido y lo que llega en orden se acusa siempre (si el acuse
    /// anterior se perdió, el emisor seguiría retransmitiendo); lo que llega
    /// en orden se entrega sin guardarlo, sea del largo que sea (la capa de
    /// arriba decide si la línea es demasiado larga). Lo adelantado se
    /// guarda hasta que llegue lo que falta solo si está dentro de la
    /// ventana ([`WINDOW`]) y mide a lo sumo `max_store` bytes; si no, se
    /// descarta **sin acuse**, y el emisor lo volverá a enviar cuando haya
    /// lugar. Así lo guardado nunca pasa de [`WINDOW`] × `max_store`
    /// bytes, envíe el otro lo que envíe.
    ///
    /// El primer datagrama que trae el número inicial (`start`) fija desde
    /// dónde se cuenta; uno que trae otro número inicial, o ninguno antes
    /// de conocerlo, es de otra secuencia y se tira sin acuse.
    pub fn on_data_within(
        &mut self,
        seq: u32,
        start: Option<u32>,
        payload: String,
        max_store: usize,
    ) -> (Vec<String>, Option<Packet>) {
        let mut deliver = Vec::new();
        let Some(next) = self.next_for(start) else {
            self.refused += 1;
            return (deliver, None);
        };
        if self.start.is_none() {
            self.start = start;
            self.next = next;
        }
        if seq < self.next || self.ahead.contains_key(&seq) {
            self.duplicates += 1;
        } else if seq == self.next {
            deliver.push(payload);
            self.next += 1;
            // Lo que esperaba adelantado, si ya es consecutivo.
            while let Some(payload) = self.ahead.remove(&self.next) {
                self.ahead_bytes -= payload.len();
                deliver.push(payload);
                self.next += 1;
            }
        } else if seq - self.next < WINDOW as u32 && payload.len() <= max_store {
            self.ahead_bytes += payload.len();
            self.ahead.insert(seq, payload);
        } else {
            self.refused += 1;
            return (deliver, None);
        }
        let sacked = self.ahead.keys().copied().take(MAX_SACKED).collect();
        let ack = Packet::Ack {
            next: self.next,
            sacked,
        };
        (deliver, Some(ack))
    }
}

/// Los dos sentidos del modo confiable con un par: lo que se envía
/// ([`Sender`]) y lo que llega ([`Receiver`]). Es lo que guarda el cliente
/// con `--udp --reliable` (ver `reliable`).
pub struct Reliable {
    /// El emisor, con sus reintentos.
    pub sender: Sender,
    /// El receptor.
    pub receiver: Receiver,
    /// Retransmisiones seguidas sin acuse tras las que el par se da por ido.
    pub retries: u32,
}

impl Reliable {
    /// Un modo confiable que da al par por ido tras `retries`
    /// retransmisiones seguidas sin acuse.
    pub fn new(retries: u32) -> Reliable {
        Reliable {
            sender: Sender::with_max_retries(retries),
            receiver: Receiver::new(),
            retries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn packets_round_trip_as_text() {
        for packet in [
            Packet::Data {
                seq: 7,
                start: None,
                payload: "hola a todos".into(),
            },
            Packet::Data {
                seq: 9,
                start: Some(7),
                payload: "la primera fue la 7".into(),
            },
            Packet::Data {
                seq: 0,
                start: None,
                payload: String::new(),
            },
            Packet::Ack {
                next: 12,
                sacked: vec![],
            },
            Packet::Ack {
                next: 3,
                sacked: vec![5, 6, 9],
            },
        ] {
            assert_eq!(Packet::parse(&packet.to_line()), Some(packet));
        }
        assert_eq!(ack(3, &[]).to_line(), ":ack 3");
        assert_eq!(ack(3, &[5, 6]).to_line(), ":ack 3 5 6");
        assert_eq!(Packet::parse(":ack 3 x"), None);
        assert_eq!(Packet::parse("hola"), None);
        assert_eq!(Packet::parse(":seq x hola"), None);
        assert_eq!(
            Packet::parse("D 1 hola"),
            None,
            "una línea de chat cualquiera"
        );
    }

    #[test]
    fn the_estimator_follows_rfc_6298_and_the_probe_rfc_9002() {
        let mut rtt = RttEstimator::default();
        assert_eq!(rtt.pto(), INITIAL_PTO, "antes de medir");
        rtt.sample(ms(100));
        // RFC 6298 §2.2: SRTT = 100, RTTVAR = 50; la sonda, 100 + 4 × 50.
        assert_eq!((rtt.srtt(), rtt.pto()), (Some(ms(100)), ms(300)));
        rtt.sample(ms(100));
        // §2.3: RTTVAR = 3/4 × 50 + 1/4 × 0 = 37,5; la sonda, 100 + 150.
        assert_eq!(rtt.pto(), ms(250));
        assert_eq!(rtt.loss_delay(), Duration::from_micros(112_500), "9/8");
        rtt.sample(ms(300));
        assert_eq!(
            rtt.loss_delay(),
            Duration::from_micros(337_500),
            "la última, si es mayor"
        );
        // En el loopback manda el tic del reloj.
        let mut fast = RttEstimator::default();
        fast.sample(Duration::from_micros(50));
        assert_eq!(fast.pto(), Duration::from_micros(1050));
        assert_eq!(fast.loss_delay(), GRANULARITY);
    }

    #[test]
    fn a_lone_lost_line_is_probed_and_measured_only_if_not_retransmitted() {
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(0);
        sender.offer("a".into());
        assert_eq!(sender.poll(t0), Step::Send(vec![data(0, "a")]));
        assert_eq!(
            sender.poll(t0 + ms(500)),
            Step::Send(vec![]),
            "todavía no vence"
        );
        // La sonda vence a 1 s (nada medido todavía): retransmite, y la
        // siguiente espera el doble.
        assert_eq!(sender.poll(t0 + ms(1000)), Step::Send(vec![data(0, "a")]));
        assert_eq!(sender.retransmissions, 1);
        assert_eq!(sender.deadline(), Some(t0 + ms(3000)));
        // El acuse de lo retransmitido no mide nada (Karn).
        sender.on_ack(1, &[], t0 + ms(1010));
        assert_eq!(sender.rtt().srtt(), None);
        assert!(sender.is_idle());
        assert_eq!(sender.deadline(), None, "nada en vuelo, sin temporizador");
    }

    /// Cinco líneas; la primera se pierde y llegan las otras cuatro: con
    /// tres enviadas después ya acusadas, el hueco sale otra vez en ese
    /// mismo momento, sin esperar ningún plazo (la retransmisión rápida).
    #[test]
    fn three_later_arrivals_retransmit_a_hole_at_once() {
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(0);
        for line in ["a", "b", "c", "d", "e"] {
            sender.offer(line.into());
        }
        let _ = sender.poll(t0);
        let t1 = t0 + ms(2);
        assert!(sender.on_ack(0, &[1, 2], t1));
        assert_eq!(sender.poll(t1), Step::Send(vec![]), "dos no bastan");
        assert!(sender.on_ack(0, &[1, 2, 3], t1));
        assert_eq!(sender.deadline(), Some(t0), "ya");
        assert_eq!(sender.poll(t1), Step::Send(vec![resent(0, "a")]));
        assert_eq!(sender.retransmissions, 1);
        // Lo retransmitido se vuelve a juzgar por su nuevo envío: los acuses
        // de lo enviado antes que él no lo dan por perdido otra vez.
        assert!(sender.on_ack(0, &[1, 2, 3, 4], t1 + ms(1)));
        assert_eq!(sender.poll(t1 + ms(1)), Step::Send(vec![]));
        assert!(sender.on_ack(5, &[], t1 + ms(2)));
        assert!(sender.is_idle());
    }

    /// Una sola línea enviada después llegó: el hueco espera 9/8 de la ida
    /// y vuelta (por si solo vino en desorden), y entonces sale.
    #[test]
    fn one_later_arrival_retransmits_a_hole_after_the_time_threshold() {
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(0);
        sender.offer("a".into());
        sender.offer("b".into());
        let _ = sender.poll(t0);
        assert!(sender.on_ack(0, &[1], t0 + ms(8)));
        // Ida y vuelta medida: 8 ms; la demora, 9 ms desde el envío.
        assert_eq!(sender.deadline(), Some(t0 + ms(9)));
        assert_eq!(sender.poll(t0 + ms(8)), Step::Send(vec![]));
        assert_eq!(sender.poll(t0 + ms(9)), Step::Send(vec![resent(0, "a")]));
    }

    /// La última línea se pierde: nada enviado después puede delatarla.
    /// La sonda sale una ida y vuelta (más el margen) después del último
    /// envío, y cada sonda seguida sin acuse espera el doble.
    #[test]
    fn a_lost_tail_is_probed_after_a_round_trip_not_a_second() {
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(0);
        sender.offer("a".into());
        let _ = sender.poll(t0);
        assert!(sender.on_ack(1, &[], t0 + ms(2)));
        sender.offer("b".into());
        let _ = sender.poll(t0 + ms(10));
        // SRTT 2 ms, RTTVAR 1 ms: la sonda, 2 + 4 = 6 ms tras el envío.
        assert_eq!(sender.deadline(), Some(t0 + ms(16)));
        assert_eq!(sender.poll(t0 + ms(16)), Step::Send(vec![resent(1, "b")]));
        assert_eq!(sender.deadline(), Some(t0 + ms(28)), "el doble: 12 ms");
        assert_eq!(sender.poll(t0 + ms(28)), Step::Send(vec![resent(1, "b")]));
        assert_eq!(sender.deadline(), Some(t0 + ms(52)), "24 ms");
        assert!(sender.on_ack(2, &[], t0 + ms(53)));
        assert!(sender.is_idle());
    }

    #[test]
    fn a_peer_that_never_answers_is_declared_gone() {
        let mut now = Instant::now();
        let mut sender = Sender::starting_at(0);
        sender.offer("¿hay alguien?".into());
        let mut retransmissions = 0;
        loop {
            match sender.poll(now) {
                Step::Gone => break,
                Step::Send(packets) => retransmissions += packets.len(),
            }
            now = sender.deadline().expect("temporizador armado");
        }
        assert_eq!(retransmissions, 1 + MAX_RETRIES as usize);
    }

    /// Con un tope de silencio, el otro se da por ido cuando pasa ese
    /// tiempo con algo en vuelo y ningún acuse nuevo: ni antes (aunque las
    /// sondas sigan) ni nunca mientras acusa algo cada tanto.
    #[test]
    fn a_peer_silent_for_the_timeout_is_declared_gone() {
        let t0 = Instant::now();
        let silence = Duration::from_secs(30);
        let mut sender = Sender::starting_at(0).giving_up_after(silence);
        sender.offer("a".into());
        let _ = sender.poll(t0);
        assert!(sender.on_ack(1, &[], t0 + ms(1)));
        assert_eq!(sender.deadline(), None, "sin nada en vuelo no se cuenta");
        // Veinte segundos después sale otra línea, y el otro calla.
        let t1 = t0 + Duration::from_secs(20);
        sender.offer("b".into());
        let _ = sender.poll(t1);
        let mut now = t1;
        while now < t1 + silence {
            assert_ne!(sender.poll(now), Step::Gone, "antes de tiempo: {now:?}");
            now = sender.deadline().expect("armado").min(t1 + silence);
        }
        assert_eq!(sender.poll(t1 + silence), Step::Gone);
        // Un acuse cada tanto lo mantiene vivo.
        let mut sender = Sender::starting_at(0).giving_up_after(silence);
        for i in 0..10u32 {
            let at = t0 + Duration::from_secs(20 * u64::from(i));
            sender.offer(format!("{i}"));
            assert_ne!(sender.poll(at), Step::Gone);
            assert_ne!(sender.poll(at + Duration::from_secs(19)), Step::Gone);
            assert!(sender.on_ack(i + 1, &[], at + Duration::from_secs(19)));
        }
    }

    #[test]
    fn the_receiver_delivers_in_order_and_discards_duplicates() {
        let mut receiver = Receiver::new();
        assert_eq!(
            receiver.on_data(1, Some(0), "b".into()),
            (vec![], Some(ack(0, &[1])))
        );
        assert_eq!(
            receiver.on_data(0, Some(0), "a".into()),
            (vec!["a".into(), "b".into()], Some(ack(2, &[])))
        );
        assert_eq!(
            receiver.on_data(0, Some(0), "a".into()),
            (vec![], Some(ack(2, &[])))
        );
        assert_eq!(receiver.duplicates, 1);
    }

    #[test]
    fn the_receiver_counts_from_the_senders_start_and_refuses_other_sequences() {
        let mut receiver = Receiver::new();
        // Sin conocer el número inicial, nada se toma.
        assert_eq!(receiver.on_data(7, None, "x".into()), (vec![], None));
        // Lo primero que llega es la tercera línea de una secuencia que
        // empieza en 1000: se guarda y se espera la 1000.
        let (lines, acked) = receiver.on_data(1002, Some(1000), "c".into());
        assert_eq!((lines, acked), (vec![], Some(ack(1000, &[1002]))));
        // Un datagrama de otra secuencia (una sesión anterior) se tira.
        assert_eq!(
            receiver.on_data(1000, Some(0), "viejo".into()),
            (vec![], None)
        );
        let (lines, _) = receiver.on_data(1000, Some(1000), "a".into());
        assert_eq!(lines, vec!["a".to_string()]);
        let (lines, acked) = receiver.on_data(1001, None, "b".into());
        assert_eq!(lines, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(acked, Some(ack(1003, &[])));
    }

    #[test]
    fn a_sender_starts_at_random_and_says_so_until_its_first_ack() {
        let starts: std::collections::HashSet<u32> = (0..20).map(|_| Sender::new().start).collect();
        assert!(starts.len() > 1, "siempre el mismo número inicial");
        assert!(starts.iter().all(|&s| s < START_BELOW));
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(500);
        sender.offer("a".into());
        sender.offer("b".into());
        let Step::Send(first) = sender.poll(t0) else {
            panic!("envía");
        };
        assert_eq!(first[1].to_line(), ":seq 501/500 b");
        assert!(!sender.on_ack(499, &[], t0), "antes del inicio: falso");
        assert!(sender.on_ack(501, &[], t0));
        let Step::Send(again) = sender.poll(t0 + Duration::from_secs(5)) else {
            panic!("retransmite");
        };
        assert_eq!(again[0].to_line(), ":seq 501 b", "ya sin el número inicial");
    }

    #[test]
    fn the_receiver_stores_only_a_window_of_short_lines_ahead() {
        let mut receiver = Receiver::new();
        let big = "x".repeat(60_000);
        // Adelantado y largo: ni se guarda ni se acusa.
        assert_eq!(
            receiver.on_data_within(1, Some(0), big.clone(), 4096),
            (vec![], None)
        );
        // Adelantado fuera de la ventana: tampoco.
        let far = WINDOW as u32;
        assert_eq!(
            receiver.on_data_within(far, Some(0), "y".into(), 4096),
            (vec![], None)
        );
        assert_eq!((receiver.refused, receiver.ahead_bytes()), (2, 0));
        // Dentro de la ventana y corto: se guarda y se acusa.
        let (_, ack) = receiver.on_data_within(far - 1, Some(0), "z".into(), 4096);
        assert_eq!(ack, Some(self::ack(0, &[far - 1])));
        assert_eq!(receiver.ahead_bytes(), 1);
        // En orden se entrega aunque sea largo: no se guarda.
        let (lines, ack) = receiver.on_data_within(0, Some(0), big.clone(), 4096);
        assert_eq!((lines, ack), (vec![big], Some(self::ack(1, &[far - 1]))));
        assert_eq!(receiver.expects(0, None), None, "repetido");
        assert_eq!(receiver.expects(1, None), Some(true), "el que se espera");
        assert_eq!(receiver.expects(2, Some(0)), Some(false), "adelantado");
        assert_eq!(receiver.expects(far - 1, None), None, "ya guardado");
        assert_eq!(receiver.expects(1 + far, None), None, "fuera de la ventana");
        assert_eq!(receiver.expects(2, Some(5)), None, "de otra secuencia");
        // Un atacante que envía de todo guarda a lo sumo la ventana.
        let mut receiver = Receiver::new();
        for seq in 1..10_000 {
            receiver.on_data_within(seq, Some(0), "w".repeat(4096), 4096);
        }
        assert!(receiver.ahead_bytes() <= (WINDOW - 1) * 4096);
    }

    fn ack(next: u32, sacked: &[u32]) -> Packet {
        Packet::Ack {
            next,
            sacked: sacked.to_vec(),
        }
    }

    #[test]
    fn a_selective_ack_spares_what_arrived_from_the_retransmission() {
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(0);
        for line in ["a", "b", "c"] {
            sender.offer(line.into());
        }
        let _ = sender.poll(t0);
        // Se perdió "a"; llegaron "b" y "c".
        sender.on_ack(0, &[1, 2], t0 + ms(5));
        assert_eq!(sender.rtt().srtt(), Some(ms(5)), "medido con lo selectivo");
        let Step::Send(again) = sender.poll(t0 + ms(1000)) else {
            panic!("no se rinde al primer vencimiento");
        };
        let hole = Packet::Data {
            seq: 0,
            start: None,
            payload: "a".into(),
        };
        assert_eq!(again, vec![hole], "solo el hueco, ya sin el número inicial");
        sender.on_ack(3, &[], t0 + ms(1001));
        assert!(sender.is_idle());
    }

    #[test]
    fn an_ack_for_what_was_never_sent_releases_nothing() {
        let t0 = Instant::now();
        let mut sender = Sender::starting_at(0);
        sender.offer("a".into());
        let _ = sender.poll(t0);
        assert!(!sender.on_ack(100_000, &[], t0), "nunca se envió el 99.999");
        assert!(!sender.on_ack(0, &[5], t0), "ni el 5");
        assert_eq!(sender.bogus_acks, 2);
        assert!(!sender.is_idle(), "la línea sigue esperando su acuse");
        assert_eq!(sender.poll(t0 + ms(1000)), Step::Send(vec![data(0, "a")]));
        assert!(sender.on_ack(1, &[], t0 + ms(1001)));
        assert!(sender.is_idle());
    }

    /// Un datagrama de un emisor que empezó en 0 y ya recibió un acuse: sin
    /// el número inicial.
    fn resent(seq: u32, payload: &str) -> Packet {
        Packet::Data {
            seq,
            start: None,
            payload: payload.into(),
        }
    }

    /// Un datagrama de un emisor que empezó en 0 y todavía no recibió
    /// ningún acuse: lleva el número inicial.
    fn data(seq: u32, payload: &str) -> Packet {
        Packet::Data {
            seq,
            start: Some(0),
            payload: payload.into(),
        }
    }

    /// Lo que le pasa a un datagrama en el enlace simulado.
    #[derive(Debug, Clone, Copy)]
    enum Fate {
        Lost,
        Delivered,
        Twice,
        /// Llega tantos pasos (de 10 ms) tarde.
        Late(u8),
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            3 => Just(Fate::Lost),
            4 => Just(Fate::Delivered),
            1 => Just(Fate::Twice),
            2 => (1u8..40).prop_map(Fate::Late),
        ]
    }

    /// Un enlace que hace con cada datagrama lo que dice `fates`, en orden,
    /// y después entrega todo (la condición de la propiedad: "si el enlace
    /// termina entregando").
    struct Link {
        fates: std::vec::IntoIter<Fate>,
        in_transit: Vec<(u64, Packet)>,
    }

    impl Link {
        fn send(&mut self, step: u64, packet: Packet) {
            match self.fates.next().unwrap_or(Fate::Delivered) {
                Fate::Lost => {}
                Fate::Delivered => self.in_transit.push((step + 1, packet)),
                Fate::Twice => {
                    self.in_transit.push((step + 1, packet.clone()));
                    self.in_transit.push((step + 2, packet));
                }
                Fate::Late(by) => self.in_transit.push((step + 1 + u64::from(by), packet)),
            }
        }

        fn arrivals(&mut self, step: u64) -> Vec<Packet> {
            let (now, later) = self.in_transit.drain(..).partition(|(at, _)| *at <= step);
            self.in_transit = later;
            now.into_iter().map(|(_, packet)| packet).collect()
        }
    }

    /// Un enlace simulado, con reloj de mentira: cada datagrama tarda
    /// [`ONE_WAY`] en cruzar y, según un generador con semilla, se pierde
    /// (`loss`), llega dos veces (`dup`) o llega [`ONE_WAY`] más tarde, detrás
    /// de los que salieron después (`reorder`).
    struct SimLink {
        rng: rand::rngs::StdRng,
        loss: f64,
        dup: f64,
        reorder: f64,
        in_transit: Vec<(Instant, Packet)>,
    }

    /// Lo que tarda un datagrama en cruzar el enlace simulado: la ida y
    /// vuelta es de 1 ms.
    const ONE_WAY: Duration = Duration::from_micros(500);

    impl SimLink {
        fn new(seed: u64, loss: f64) -> SimLink {
            use rand::SeedableRng;
            SimLink {
                rng: rand::rngs::StdRng::seed_from_u64(seed),
                loss,
                dup: 0.02,
                reorder: 0.02,
                in_transit: Vec::new(),
            }
        }

        fn send(&mut self, now: Instant, packet: Packet) {
            use rand::RngExt;
            if self.rng.random_bool(self.loss) {
                return;
            }
            let copies = if self.rng.random_bool(self.dup) { 2 } else { 1 };
            for _ in 0..copies {
                let late = self.rng.random_bool(self.reorder);
                let at = now + if late { ONE_WAY * 2 } else { ONE_WAY };
                self.in_transit.push((at, packet.clone()));
            }
        }

        fn next_arrival(&self) -> Option<Instant> {
            self.in_transit.iter().map(|(at, _)| *at).min()
        }

        fn arrivals(&mut self, now: Instant) -> Vec<Packet> {
            let (mut due, later): (Vec<_>, Vec<_>) =
                self.in_transit.drain(..).partition(|(at, _)| *at <= now);
            self.in_transit = later;
            due.sort_by_key(|(at, _)| *at);
            due.into_iter().map(|(_, packet)| packet).collect()
        }
    }

    /// Envía una línea a cada hora de `offers` (desde el comienzo) por un
    /// enlace simulado con pérdida `loss` en cada sentido, y devuelve cuánto
    /// tardó cada una en entregarse y cuándo llegó la última. Avanza el reloj
    /// de evento en evento: la próxima línea, la próxima llegada o el
    /// próximo plazo del emisor.
    fn simulate(offers: &[Duration], loss: f64, seed: u64) -> (Vec<Duration>, Duration) {
        let t0 = Instant::now();
        let mut sender = Sender::with_max_retries(u32::MAX);
        let mut receiver = Receiver::new();
        let mut forth = SimLink::new(seed, loss);
        let mut back = SimLink::new(seed ^ 0xb4c4, loss);
        let mut offered = 0;
        let mut latencies = Vec::new();
        let mut now = t0;
        for _ in 0..1_000_000 {
            while offered < offers.len() && t0 + offers[offered] <= now {
                sender.offer(offered.to_string());
                offered += 1;
            }
            let Step::Send(packets) = sender.poll(now) else {
                panic!("se rindió");
            };
            for packet in packets {
                forth.send(now, packet);
            }
            for packet in forth.arrivals(now) {
                if let Packet::Data {
                    seq,
                    start,
                    payload,
                } = packet
                {
                    let (lines, ack) = receiver.on_data(seq, start, payload);
                    for line in lines {
                        let index: usize = line.parse().expect("número");
                        assert_eq!(index, latencies.len(), "en orden, una vez");
                        latencies.push(now - (t0 + offers[index]));
                    }
                    if let Some(ack) = ack {
                        back.send(now, ack);
                    }
                }
            }
            for packet in back.arrivals(now) {
                if let Packet::Ack { next, sacked } = packet {
                    sender.on_ack(next, &sacked, now);
                }
            }
            if latencies.len() == offers.len() {
                return (latencies, now - t0);
            }
            let next_offer = offers.get(offered).map(|at| t0 + *at);
            let events = [
                next_offer,
                forth.next_arrival(),
                back.next_arrival(),
                sender.deadline(),
            ];
            // Lo que ya venció se atiende en la vuelta siguiente, a la
            // misma hora; si no, el reloj salta al próximo evento.
            now = events
                .into_iter()
                .flatten()
                .min()
                .map_or(now, |at| at.max(now));
        }
        panic!("la simulación no terminó");
    }

    /// El rendimiento útil con pérdida, contra el del mismo enlace sin
    /// pérdida: dos mil líneas de golpe, por un enlace que además duplica
    /// y desordena un 2 %, con diez semillas. Cada pérdida se recupera en
    /// idas y vueltas (1 ms), no en un plazo de 200 ms como antes: con 10 %
    /// se conserva al menos la mitad del rendimiento, con 30 % al menos la
    /// cuarta parte (las metas del laboratorio).
    #[test]
    fn a_lossy_link_keeps_most_of_the_goodput() {
        let burst = vec![Duration::ZERO; 2000];
        for seed in 1..=10 {
            let (_, clean) = simulate(&burst, 0.0, seed);
            let (_, ten) = simulate(&burst, 0.1, seed);
            let (_, thirty) = simulate(&burst, 0.3, seed);
            let ratio = |lossy: Duration| clean.as_secs_f64() / lossy.as_secs_f64();
            eprintln!(
                "semilla {seed}: {clean:?} {ten:?} {thirty:?} -> {:.2} {:.2}",
                ratio(ten),
                ratio(thirty)
            );
            assert!(
                ratio(ten) >= 0.5,
                "semilla {seed}: con 10 %, {ten:?} contra {clean:?}"
            );
            assert!(
                ratio(thirty) >= 0.25,
                "semilla {seed}: con 30 %, {thirty:?} contra {clean:?}"
            );
        }
    }

    /// Veinte líneas por segundo con 10 % de pérdida en cada sentido: cada
    /// línea sola, sin otras detrás que delaten su pérdida. La sonda la
    /// recupera en unas idas y vueltas: el percentil 99 de la latencia
    /// queda por debajo de 20 ms (antes, una pérdida esperaba 200 ms).
    #[test]
    fn at_twenty_lines_a_second_a_lost_line_arrives_within_milliseconds() {
        let paced: Vec<Duration> = (0..400).map(|i| Duration::from_millis(50 * i)).collect();
        for seed in 1..=5 {
            let (mut latencies, _) = simulate(&paced, 0.1, seed);
            latencies.sort();
            let p99 = latencies[latencies.len() * 99 / 100];
            eprintln!(
                "semilla {seed}: p50 {:?} p99 {p99:?} max {:?}",
                latencies[latencies.len() / 2],
                latencies.last()
            );
            assert!(p99 <= ms(20), "semilla {seed}: p99 {p99:?}");
        }
    }

    proptest! {
        /// Con cualquier patrón de pérdidas, duplicados y demoras, si el
        /// enlace termina entregando, cada línea llega una vez y en orden.
        #[test]
        fn every_line_arrives_once_and_in_order(
            lines in 1usize..60,
            forth in proptest::collection::vec(fate(), 0..200),
            back in proptest::collection::vec(fate(), 0..200),
        ) {
            let start = Instant::now();
            // Un emisor que nunca se rinde: con diez pérdidas seguidas uno
            // normal daría al otro por ido, y eso lo prueba otra prueba.
            let mut sender = Sender::with_max_retries(u32::MAX);
            let mut receiver = Receiver::new();
            let mut to_receiver = Link { fates: forth.into_iter(), in_transit: Vec::new() };
            let mut to_sender = Link { fates: back.into_iter(), in_transit: Vec::new() };
            let sent: Vec<String> = (0..lines).map(|i| format!("línea {i}")).collect();
            for line in &sent {
                sender.offer(line.clone());
            }
            let mut delivered = Vec::new();
            // Pasos de 10 ms, hasta 20 minutos simulados.
            for step in 0..120_000u64 {
                let now = start + ms(10 * step);
                match sender.poll(now) {
                    Step::Gone => prop_assert!(false, "dado por ido con el enlace entregando"),
                    Step::Send(packets) => {
                        for packet in packets {
                            to_receiver.send(step, packet);
                        }
                    }
                }
                for packet in to_receiver.arrivals(step) {
                    if let Packet::Data { seq, start, payload } = packet {
                        let (lines, ack) = receiver.on_data(seq, start, payload);
                        delivered.extend(lines);
                        if let Some(ack) = ack {
                            to_sender.send(step, ack);
                        }
                    }
                }
                for packet in to_sender.arrivals(step) {
                    if let Packet::Ack { next, sacked } = packet {
                        sender.on_ack(next, &sacked, now);
                    }
                }
                if sender.is_idle() {
                    break;
                }
            }
            prop_assert!(sender.is_idle(), "quedó algo sin acuse");
            prop_assert_eq!(delivered, sent);
        }
    }
}
