//! Pérdida, duplicación y reordenamiento de datagramas a pedido: el
//! laboratorio de UDP. En el loopback UDP solo pierde cuando el búfer de
//! recepción de quien espera está lleno, así que la diferencia con TCP
//! casi no se ve; con `--udp-loss 0.3` el servidor (y el
//! cliente con `--loss 0.3`) tira a propósito 3 de cada 10 datagramas, y la
//! sala deja ver lo que UDP no promete.
//!
//! [`Lossy`] es la decisión pura: a cada datagrama le toca un destino
//! (llega, se pierde, llega dos veces, llega después del siguiente), tirado
//! con un generador con semilla (`--udp-seed`), así que una corrida se puede
//! repetir. [`LossySocket`] lo pone delante de un `UdpSocket` del servidor
//! y [`LossyLink`], del socket del cliente. Cada evento se cuenta
//! ([`Alterations`]). No sabe nada del chat.

use crate::curso::cliente::{Screen, Shown};
use crate::curso::seams::Datagrams;
use crate::curso::sync::lock;
use crate::extra::cliente::seams::Link;
use crate::extra::rendimiento::drain::{BURST_DATAGRAMS, Slots};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Las probabilidades, de 0 a 1, de cada cosa que le puede pasar a un
/// datagrama. Todas en 0: la red como es.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairment {
    /// Que se pierda.
    pub loss: f64,
    /// Que llegue dos veces (si no se perdió).
    pub dup: f64,
    /// Que llegue después del datagrama siguiente (si no se perdió).
    pub reorder: f64,
}

impl Impairment {
    /// `true` si no altera nada: entonces no hace falta ni el generador.
    pub fn is_off(&self) -> bool {
        self.loss <= 0.0 && self.dup <= 0.0 && self.reorder <= 0.0
    }
}

/// Lee una probabilidad de la línea de comandos (`--udp-loss 0.3`): un
/// número de 0 a 1. Error: el texto que explica el valor esperado.
pub fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{text} no es un número de 0 a 1")),
    }
}

/// Lo que se alteró, para `:stats` y la consola. Atómicos: se cuentan desde
/// el hilo que envía y el que recibe sin tomar ningún candado.
#[derive(Debug, Default)]
pub struct Alterations {
    /// Datagramas perdidos a propósito.
    pub dropped: AtomicU64,
    /// Datagramas duplicados.
    pub duplicated: AtomicU64,
    /// Datagramas demorados hasta después del siguiente.
    pub reordered: AtomicU64,
}

impl Alterations {
    /// Perdidos, duplicados y reordenados hasta ahora.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.dropped.load(Ordering::Relaxed),
            self.duplicated.load(Ordering::Relaxed),
            self.reordered.load(Ordering::Relaxed),
        )
    }
}

/// Una dirección del tráfico (lo que entra o lo que sale) con su
/// generador y el datagrama que espera para llegar tarde.
pub struct Lossy<T> {
    impairment: Impairment,
    rng: StdRng,
    /// El datagrama demorado: sale detrás del próximo que pase.
    held: Option<T>,
}

impl<T: Clone> Lossy<T> {
    /// Un sentido del tráfico con `impairment`, tirado con la semilla `seed`.
    pub fn new(impairment: Impairment, seed: u64) -> Lossy<T> {
        Lossy {
            impairment,
            rng: StdRng::seed_from_u64(seed),
            held: None,
        }
    }

    /// Pasa un datagrama: devuelve los que siguen su camino ahora, en orden
    /// (ninguno si se perdió o quedó demorado; dos si se duplicó; este y el
    /// demorado de antes si había uno). Un demorado espera al siguiente
    /// datagrama del mismo sentido: si no viene ninguno, no llega, como un
    /// datagrama que tarda tanto que ya no importa.
    pub fn pass(&mut self, datagram: T, counters: &Alterations) -> Vec<T> {
        let Impairment { loss, dup, reorder } = self.impairment;
        if self.rng.random_bool(loss.clamp(0.0, 1.0)) {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        }
        let mut out = Vec::with_capacity(3);
        if self.held.is_none() && self.rng.random_bool(reorder.clamp(0.0, 1.0)) {
            counters.reordered.fetch_add(1, Ordering::Relaxed);
            self.held = Some(datagram);
            return out;
        }
        if self.rng.random_bool(dup.clamp(0.0, 1.0)) {
            counters.duplicated.fetch_add(1, Ordering::Relaxed);
            out.push(datagram.clone());
        }
        out.push(datagram);
        out.extend(self.held.take());
        out
    }
}

/// El enlace UDP del cliente con el laboratorio encendido (`cliente
/// --loss`...): un sentido para lo que sale, otro para lo que entra, cada
/// uno con su generador (semillas `seed` y `seed + 1`), y al terminar,
/// cuánto alteró.
pub struct LossyLink {
    outgoing: Mutex<Lossy<Vec<u8>>>,
    incoming: Mutex<Lossy<Vec<u8>>>,
    counters: Alterations,
}

impl LossyLink {
    /// Un enlace que altera cada sentido según `impairment`.
    pub fn new(impairment: Impairment, seed: u64) -> LossyLink {
        LossyLink {
            outgoing: Mutex::new(Lossy::new(impairment, seed)),
            incoming: Mutex::new(Lossy::new(impairment, seed.wrapping_add(1))),
            counters: Alterations::default(),
        }
    }
}

impl Link for LossyLink {
    fn send(&self, udp: &UdpSocket, bytes: &[u8]) -> io::Result<()> {
        // El candado del sentido: cada datagrama cambia el generador y el
        // demorado, y envían dos hilos (el del teclado y el receptor, con
        // sus reintentos y acuses).
        let passed = lock(&self.outgoing).pass(bytes.to_vec(), &self.counters);
        for datagram in passed {
            udp.send(&datagram)?;
        }
        Ok(())
    }

    fn arrived(&self, datagram: &[u8]) -> Vec<Vec<u8>> {
        lock(&self.incoming).pass(datagram.to_vec(), &self.counters)
    }

    fn finish(&self, screen: &dyn Screen) {
        let (dropped, duplicated, reordered) = self.counters.snapshot();
        let text = format!(
            "UDP lab: this client dropped {dropped}, duplicated {duplicated} \
             and reordered {reordered} datagrams."
        );
        screen.show(Shown::Note {
            text,
            warning: false,
        });
    }
}

/// Un sentido del tráfico de un socket: datagramas con su dirección.
type Side = Option<Mutex<Lossy<(Vec<u8>, SocketAddr)>>>;

/// Un `UdpSocket` del servidor con las dos direcciones del tráfico
/// alteradas. Sin alteración (`Impairment::is_off`) es el socket tal cual.
pub struct LossySocket {
    socket: UdpSocket,
    incoming: Side,
    outgoing: Side,
    /// Dónde se cuenta lo alterado en los dos sentidos.
    counters: &'static Alterations,
    /// Donde `recvmmsg(2)` deja cada tanda. Solo el hilo UDP recibe: el
    /// candado nunca espera, y está porque `receive` toma `&self`.
    slots: Mutex<Slots>,
}

impl LossySocket {
    /// Envuelve `socket`. Cada sentido tiene su generador (semillas `seed`
    /// y `seed + 1`), para que lo que entra no cambie la suerte de lo que
    /// sale. Lo alterado se cuenta en `counters` (las estadísticas del
    /// servidor, `stats::COUNTERS.lab`).
    pub fn new(
        socket: UdpSocket,
        impairment: Impairment,
        seed: u64,
        counters: &'static Alterations,
    ) -> LossySocket {
        let side = |seed| (!impairment.is_off()).then(|| Mutex::new(Lossy::new(impairment, seed)));
        LossySocket {
            socket,
            incoming: side(seed),
            outgoing: side(seed.wrapping_add(1)),
            counters,
            slots: Mutex::new(Slots::new()),
        }
    }

    /// El socket de verdad (para `set_read_timeout`, `local_addr`...).
    pub fn inner(&self) -> &UdpSocket {
        &self.socket
    }

    /// `send_to`, pasando por la alteración de lo que sale. Devuelve los
    /// bytes de `bytes` (aunque se haya "perdido": para quien envía, UDP
    /// no avisa). Error: el de `send_to`.
    pub fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        let Some(outgoing) = &self.outgoing else {
            return self.socket.send_to(bytes, to);
        };
        let passed = lock(outgoing).pass((bytes.to_vec(), to), self.counters);
        for (datagram, to) in passed {
            self.socket.send_to(&datagram, to)?;
        }
        Ok(bytes.len())
    }

    /// Una tanda: espera el primer datagrama (a lo sumo el plazo de
    /// lectura) y, sin esperar, trae lo que ya esté en la cola del kernel,
    /// hasta [`BURST_DATAGRAMS`], con `recvmmsg(2)` (ver [`Slots`]). Cada
    /// datagrama pasa por la alteración de lo que entra: `each` se llama
    /// con cada uno que sigue su camino (ninguno, uno o más por datagrama).
    /// Error: el de la primera llamada (incluido el plazo de lectura); uno
    /// de las siguientes solo corta la tanda.
    pub fn receive(&self, mut each: impl FnMut(&[u8], SocketAddr)) -> io::Result<()> {
        let mut slots = lock(&self.slots);
        let mut read = slots.receive(&self.socket, true)?;
        let mut total = 0;
        while read > 0 {
            for index in 0..read {
                let Some((bytes, from)) = slots.get(index) else {
                    break;
                };
                match &self.incoming {
                    None => each(bytes, from),
                    Some(incoming) => {
                        let passed = lock(incoming).pass((bytes.to_vec(), from), self.counters);
                        for (datagram, from) in passed {
                            each(&datagram, from);
                        }
                    }
                }
            }
            total += read;
            read = match total < BURST_DATAGRAMS {
                true => slots.receive(&self.socket, false).unwrap_or(0),
                false => 0,
            };
        }
        Ok(())
    }
}

/// El laboratorio como el socket del bucle de `recv_from` del servidor
/// (ver [`Datagrams`]).
impl Datagrams for LossySocket {
    /// El búfer del bucle del curso no hace falta: los datagramas quedan
    /// en los lugares de [`Slots`].
    fn receive(
        &self,
        _buffer: &mut [u8],
        each: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<()> {
        LossySocket::receive(self, each)
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        LossySocket::send_to(self, bytes, to)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(impairment: Impairment, n: u32) -> (Vec<u32>, Alterations) {
        let counters = Alterations::default();
        let mut lossy = Lossy::new(impairment, 42);
        let mut out = Vec::new();
        for i in 0..n {
            out.extend(lossy.pass(i, &counters));
        }
        (out, counters)
    }

    #[test]
    fn off_changes_nothing() {
        let (out, counters) = run(Impairment::default(), 100);
        assert_eq!(out, (0..100).collect::<Vec<_>>());
        assert_eq!(counters.snapshot(), (0, 0, 0));
    }

    #[test]
    fn loss_drops_about_the_asked_fraction_and_counts_it() {
        let impairment = Impairment {
            loss: 0.3,
            ..Impairment::default()
        };
        let (out, counters) = run(impairment, 10_000);
        let (dropped, _, _) = counters.snapshot();
        assert_eq!(out.len() as u64 + dropped, 10_000);
        assert!((2_700..3_300).contains(&dropped), "{dropped}");
        assert!(
            out.windows(2).all(|w| w[0] < w[1]),
            "solo pérdida: en orden"
        );
    }

    #[test]
    fn duplicates_and_reorders_are_counted_and_nothing_else_changes() {
        let impairment = Impairment {
            loss: 0.0,
            dup: 0.1,
            reorder: 0.1,
        };
        let (out, counters) = run(impairment, 1_000);
        let (dropped, duplicated, reordered) = counters.snapshot();
        assert_eq!(dropped, 0);
        assert!(
            duplicated > 50 && reordered > 50,
            "{duplicated} {reordered}"
        );
        // Todo llega (salvo, quizá, un demorado al final), cada uno una vez
        // más por cada duplicación.
        let mut seen = out.clone();
        seen.sort_unstable();
        seen.dedup();
        assert!(seen.len() >= 999);
        assert!(out.len() as u64 >= 999 + duplicated);
        assert!(out.windows(2).any(|w| w[0] > w[1]), "hay desorden");
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let impairment = Impairment {
            loss: 0.2,
            dup: 0.2,
            reorder: 0.2,
        };
        assert_eq!(run(impairment, 500).0, run(impairment, 500).0);
    }
}
