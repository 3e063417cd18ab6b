//! Las estadísticas en vivo del servidor: `:stats` y, con
//! `--stats-secs N`, una línea en la consola cada N segundos. Muestran lo
//! que el curso enseña y que de otro modo no se ve: cuántos hilos hay (uno
//! por cliente TCP), cuántas líneas entran y salen, cuánto esperan las
//! colas, cuánto se pierde por UDP, cuánto se espera el candado del libro
//! y cuántas operaciones junta cada `fdatasync`.
//!
//! Los caminos calientes solo incrementan contadores atómicos
//! ([`COUNTERS`]), sin tomar ningún candado: contar no debe frenar al chat.
//! Son del proceso (un servidor por proceso), así nadie tiene que pasarlos
//! de mano en mano. Lo demás (usuarios, colas) se mide al preguntar. El
//! armado del texto ([`Snapshot::lines`]) es puro.

use crate::curso::seams::{Census, Observer};
use crate::curso::session::Chat;
use crate::extra::laboratorio::lossy;
use crate::extra::notices::Notice;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Sobre cuánto tiempo se calculan las tasas por segundo.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Los contadores del proceso.
pub struct Counters {
    /// Líneas recibidas de clientes (TCP y UDP).
    pub lines_in: AtomicU64,
    /// Entregas: una línea a un destinatario.
    pub deliveries_out: AtomicU64,
    /// Clientes desconectados por una cola de salida llena o por el techo
    /// de memoria de todas las colas.
    pub overflow_disconnects: AtomicU64,
    /// Datagramas UDP descartados por el límite de líneas por segundo.
    pub udp_rate_dropped: AtomicU64,
    /// Lo que alteró el laboratorio de UDP del servidor.
    pub lab: lossy::Alterations,
    /// Datagramas que el modo confiable del servidor retransmitió.
    pub udp_retransmitted: AtomicU64,
    /// Datagramas repetidos que el modo confiable del servidor descartó.
    pub udp_duplicates_discarded: AtomicU64,
    /// Pares del modo confiable abiertos ahora (un valor, no una suma).
    pub reliable_pairs: AtomicU64,
    /// Bytes que guardan ahora esos pares: lo adelantado, lo que está en
    /// vuelo y lo que espera lugar en la ventana.
    pub reliable_bytes: AtomicU64,
    /// Datagramas del modo confiable descartados sin acuse (fuera de la
    /// ventana, demasiado largos, sin lugar bajo el techo) y pares no
    /// abiertos por el límite por dirección IP.
    pub reliable_refused: AtomicU64,
    /// Acuses descartados por reconocer lo que nunca se envió.
    pub reliable_bogus_acks: AtomicU64,
    /// Veces que se tomó el candado del libro de cuentas.
    pub ledger_locks: AtomicU64,
    /// Nanosegundos de espera por ese candado, en total y como máximo.
    pub ledger_wait_ns: AtomicU64,
    /// El máximo de una sola espera, en nanosegundos.
    pub ledger_wait_max_ns: AtomicU64,
    /// `fdatasync` del diario hechos.
    pub journal_syncs: AtomicU64,
    /// Operaciones (líneas del diario) confirmadas por esos `fdatasync`.
    pub journal_operations: AtomicU64,
}

/// Los contadores de este proceso.
pub static COUNTERS: Counters = Counters {
    lines_in: AtomicU64::new(0),
    deliveries_out: AtomicU64::new(0),
    overflow_disconnects: AtomicU64::new(0),
    udp_rate_dropped: AtomicU64::new(0),
    lab: lossy::Alterations {
        dropped: AtomicU64::new(0),
        duplicated: AtomicU64::new(0),
        reordered: AtomicU64::new(0),
    },
    udp_retransmitted: AtomicU64::new(0),
    udp_duplicates_discarded: AtomicU64::new(0),
    reliable_pairs: AtomicU64::new(0),
    reliable_bytes: AtomicU64::new(0),
    reliable_refused: AtomicU64::new(0),
    reliable_bogus_acks: AtomicU64::new(0),
    ledger_locks: AtomicU64::new(0),
    ledger_wait_ns: AtomicU64::new(0),
    ledger_wait_max_ns: AtomicU64::new(0),
    journal_syncs: AtomicU64::new(0),
    journal_operations: AtomicU64::new(0),
};

impl Counters {
    /// Suma `n` a `counter` (un incremento atómico, sin orden con nada más:
    /// es solo un número para mostrar).
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Anota una espera por el candado del libro.
    pub fn ledger_lock_waited(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        Counters::add(&self.ledger_locks, 1);
        Counters::add(&self.ledger_wait_ns, ns);
        self.ledger_wait_max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// Anota un `fdatasync` que confirmó `operations` operaciones.
    pub fn journal_synced(&self, operations: u64) {
        Counters::add(&self.journal_syncs, 1);
        Counters::add(&self.journal_operations, operations);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Una muestra de los contadores que cambian rápido, para las tasas.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    lines_in: u64,
    deliveries_out: u64,
    journal_syncs: u64,
}

impl Sample {
    fn now(at: Instant) -> Sample {
        Sample {
            at,
            lines_in: Counters::get(&COUNTERS.lines_in),
            deliveries_out: Counters::get(&COUNTERS.deliveries_out),
            journal_syncs: Counters::get(&COUNTERS.journal_syncs),
        }
    }
}

/// Las muestras de los últimos [`RATE_WINDOW`] (y una más vieja, la base).
static SAMPLES: Mutex<VecDeque<Sample>> = Mutex::new(VecDeque::new());

/// Toma una muestra (la llama el hilo de estadísticas cada segundo) y
/// devuelve las tasas por segundo desde la muestra más nueva que tenga al
/// menos [`RATE_WINDOW`] (o la primera): líneas que entran, entregas que
/// salen y `fdatasync`.
pub fn sample_rates(now: Instant) -> (f64, f64, f64) {
    let current = Sample::now(now);
    let mut samples = crate::curso::sync::lock(&SAMPLES);
    samples.push_back(current);
    while samples.len() > 2 && samples[1].at + RATE_WINDOW <= now {
        samples.pop_front();
    }
    let base = samples.front().copied().unwrap_or(current);
    let seconds = now.saturating_duration_since(base.at).as_secs_f64();
    if seconds <= 0.0 {
        return (0.0, 0.0, 0.0);
    }
    let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / seconds;
    (
        rate(current.lines_in, base.lines_in),
        rate(current.deliveries_out, base.deliveries_out),
        rate(current.journal_syncs, base.journal_syncs),
    )
}

/// Todo lo que muestra `:stats`, ya medido.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Hilos vivos del proceso.
    pub threads: u64,
    /// Usuarios en la sala con conexión TCP.
    pub tcp_users: u64,
    /// Usuarios en la sala solo por UDP.
    pub udp_users: u64,
    /// Líneas recibidas por segundo (últimos 10 s).
    pub lines_in_per_s: f64,
    /// Entregas por segundo (últimos 10 s).
    pub deliveries_out_per_s: f64,
    /// La cola de salida más larga, en bytes.
    pub largest_queue_bytes: u64,
    /// Clientes con algo en su cola de salida.
    pub backlogged_clients: u64,
    /// Bytes en todas las colas de salida.
    pub queued_bytes: u64,
    /// Desconectados por cola llena o por el techo, desde el arranque.
    pub overflow_disconnects: u64,
    /// Datagramas descartados por el límite de líneas por segundo.
    pub udp_rate_dropped: u64,
    /// Datagramas perdidos, duplicados y reordenados por el laboratorio.
    pub lab: (u64, u64, u64),
    /// Retransmisiones del modo confiable (ver `reliable`).
    pub udp_retransmitted: u64,
    /// Datagramas repetidos que el modo confiable descartó.
    pub udp_duplicates_discarded: u64,
    /// Pares del modo confiable abiertos.
    pub reliable_pairs: u64,
    /// Bytes que guardan esos pares.
    pub reliable_bytes: u64,
    /// Datagramas confiables descartados sin acuse, y pares no abiertos.
    pub reliable_refused: u64,
    /// Acuses de lo que nunca se envió, descartados.
    pub reliable_bogus_acks: u64,
    /// Veces que se tomó el candado del libro.
    pub ledger_locks: u64,
    /// Espera total y máxima por ese candado, en microsegundos.
    pub ledger_wait_total_us: u64,
    /// La espera más larga, en microsegundos.
    pub ledger_wait_max_us: u64,
    /// `fdatasync` por segundo (últimos 10 s).
    pub journal_syncs_per_s: f64,
    /// Operaciones confirmadas por `fdatasync`, desde el arranque: más de 1
    /// es la escritura en grupo trabajando.
    pub operations_per_sync: f64,
}

impl Snapshot {
    /// Lo que no depende de la sala: los contadores del proceso y las tasas
    /// a la hora `now`. La sala completa usuarios y colas.
    pub fn of_process(now: Instant) -> Snapshot {
        let c = &COUNTERS;
        let (lines_in_per_s, deliveries_out_per_s, journal_syncs_per_s) = sample_rates(now);
        let syncs = Counters::get(&c.journal_syncs);
        let operations = Counters::get(&c.journal_operations);
        Snapshot {
            threads: threads_alive(),
            lines_in_per_s,
            deliveries_out_per_s,
            overflow_disconnects: Counters::get(&c.overflow_disconnects),
            udp_rate_dropped: Counters::get(&c.udp_rate_dropped),
            lab: c.lab.snapshot(),
            udp_retransmitted: Counters::get(&c.udp_retransmitted),
            udp_duplicates_discarded: Counters::get(&c.udp_duplicates_discarded),
            reliable_pairs: Counters::get(&c.reliable_pairs),
            reliable_bytes: Counters::get(&c.reliable_bytes),
            reliable_refused: Counters::get(&c.reliable_refused),
            reliable_bogus_acks: Counters::get(&c.reliable_bogus_acks),
            ledger_locks: Counters::get(&c.ledger_locks),
            ledger_wait_total_us: Counters::get(&c.ledger_wait_ns) / 1000,
            ledger_wait_max_us: Counters::get(&c.ledger_wait_max_ns) / 1000,
            journal_syncs_per_s,
            operations_per_sync: if syncs == 0 {
                0.0
            } else {
                operations as f64 / syncs as f64
            },
            ..Snapshot::default()
        }
    }

    /// Las líneas de `:stats` (cada una va como `Stats: ...`): pares
    /// `clave=valor`, fáciles de leer para una persona y para un guion.
    pub fn lines(&self) -> Vec<String> {
        let (lost, duplicated, reordered) = self.lab;
        vec![
            format!(
                "threads={} users={} tcp_users={} udp_users={} lines_in_per_s={:.1} deliveries_out_per_s={:.1}",
                self.threads,
                self.tcp_users + self.udp_users,
                self.tcp_users,
                self.udp_users,
                self.lines_in_per_s,
                self.deliveries_out_per_s
            ),
            format!(
                "largest_queue_bytes={} backlogged_clients={} queued_bytes={} overflow_disconnects={}",
                self.largest_queue_bytes,
                self.backlogged_clients,
                self.queued_bytes,
                self.overflow_disconnects
            ),
            format!(
                "udp_rate_dropped={} udp_lab_lost={lost} udp_lab_duplicated={duplicated} udp_lab_reordered={reordered} udp_retransmitted={} udp_duplicates_discarded={} reliable_pairs={} reliable_bytes={} reliable_refused={} reliable_bogus_acks={}",
                self.udp_rate_dropped,
                self.udp_retransmitted,
                self.udp_duplicates_discarded,
                self.reliable_pairs,
                self.reliable_bytes,
                self.reliable_refused,
                self.reliable_bogus_acks
            ),
            format!(
                "ledger_locks={} ledger_wait_total_us={} ledger_wait_max_us={} journal_syncs_per_s={:.1} operations_per_sync={:.2}",
                self.ledger_locks,
                self.ledger_wait_total_us,
                self.ledger_wait_max_us,
                self.journal_syncs_per_s,
                self.operations_per_sync
            ),
        ]
    }
}

/// Cada cuánto, como mucho, se vuelve a medir la sala para `:stats`.
/// Medirla recorre todas las colas (un candado por cola): con 10.000
/// clientes, un usuario que pide `:stats` 20 veces por segundo (lo que
/// permite `--max-lines-per-sec`) costaría 200.000 candados por segundo.
pub const REMEASURE_AFTER: Duration = Duration::from_secs(1);

/// La última medición, para [`cached`].
static LAST: Mutex<Option<(Instant, Snapshot)>> = Mutex::new(None);

/// La medición de hace menos de [`REMEASURE_AFTER`] a la hora `now`, o una
/// nueva con `measure`. Error: ninguno (un candado envenenado se toma
/// igual: la medición es solo un número para mostrar).
pub fn cached(now: Instant, measure: impl FnOnce() -> Snapshot) -> Snapshot {
    let mut last = crate::curso::sync::lock(&LAST);
    match &*last {
        Some((at, snapshot)) if now.saturating_duration_since(*at) < REMEASURE_AFTER => {
            snapshot.clone()
        }
        _ => {
            let snapshot = measure();
            *last = Some((now, snapshot.clone()));
            snapshot
        }
    }
}

/// Los hilos vivos del proceso, de `/proc/self/status` (Linux); 0 si no se
/// puede leer.
fn threads_alive() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// El [`Observer`] del programa completo: cuenta en [`COUNTERS`] y arma
/// las líneas de `:stats` (con la sala medida a lo sumo una vez por
/// [`REMEASURE_AFTER`]).
pub struct Stats;

/// Se descartó un datagrama por el límite de líneas por segundo (lo
/// cuenta el socket UDP del programa completo, `datagrams`).
pub fn datagram_dropped() {
    Counters::add(&COUNTERS.udp_rate_dropped, 1);
}

impl Observer for Stats {
    fn help(&self) -> &'static str {
        ":stats (server statistics), "
    }

    fn line_in(&self) {
        Counters::add(&COUNTERS.lines_in, 1);
    }

    fn delivered(&self, outputs: usize) {
        Counters::add(&COUNTERS.deliveries_out, outputs as u64);
    }

    fn ledger_waited(&self, waited: Duration) {
        COUNTERS.ledger_lock_waited(waited);
    }

    /// Cada línea es un aviso `Stats: ...` ([`Notice::Stats`]).
    fn report(&self, now: Instant, room: &dyn Fn() -> Census) -> Option<Vec<String>> {
        let figures = measure(now, room).lines();
        Some(
            figures
                .into_iter()
                .map(|f| Notice::Stats(f).to_string())
                .collect(),
        )
    }
}

/// La muestra de `now` (la sala, medida a lo sumo una vez por
/// [`REMEASURE_AFTER`]).
fn measure(now: Instant, room: &dyn Fn() -> Census) -> Snapshot {
    cached(now, || {
        let census = room();
        let pending: Vec<u64> = census
            .outputs
            .iter()
            .map(|output| output.pending_bytes() as u64)
            .collect();
        Snapshot {
            tcp_users: census.tcp,
            udp_users: census.udp,
            largest_queue_bytes: pending.iter().copied().max().unwrap_or(0),
            backlogged_clients: pending.iter().filter(|&&bytes| bytes > 0).count() as u64,
            queued_bytes: pending.iter().sum(),
            ..Snapshot::of_process(now)
        }
    })
}

/// El hilo de las estadísticas: una vez por segundo toma la muestra de las
/// tasas por segundo y, si `every_secs` no es 0, escribe en la consola lo
/// que diría `:stats` cada `every_secs` segundos. Error: no se pudo crear
/// el hilo.
pub fn start_thread(chat: Arc<Chat>, every_secs: u64) -> io::Result<()> {
    let every = Duration::from_secs(every_secs);
    // La primera muestra, al arrancar: la base de las tasas.
    sample_rates(Instant::now());
    thread::Builder::new().name("stats".into()).spawn(move || {
        let mut last = Instant::now();
        loop {
            thread::sleep(Duration::from_secs(1));
            let now = Instant::now();
            if every_secs > 0 && now.duration_since(last) >= every {
                last = now;
                let figures = measure(now, &|| chat.room.census()).lines();
                chat.log(&Notice::Stats(figures.join(" ")).to_string());
            } else {
                sample_rates(now);
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_key_value_pair() {
        let snapshot = Snapshot {
            threads: 5,
            tcp_users: 2,
            udp_users: 1,
            lab: (3, 1, 0),
            operations_per_sync: 2.5,
            ..Snapshot::default()
        };
        let lines = snapshot.lines();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("threads=5 users=3 tcp_users=2 udp_users=1 "));
        assert!(lines[2].contains("udp_lab_lost=3 udp_lab_duplicated=1"));
        assert!(lines[3].ends_with("operations_per_sync=2.50"));
        for line in &lines {
            for pair in line.split(' ') {
                let (key, value) = pair.split_once('=').expect("clave=valor");
                assert!(!key.is_empty() && value.parse::<f64>().is_ok(), "{pair}");
            }
        }
    }

    #[test]
    fn this_process_has_threads() {
        assert!(threads_alive() >= 1);
    }
}
