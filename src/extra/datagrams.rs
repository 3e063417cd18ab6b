//! El socket UDP del programa completo: su respuesta al punto de enchufe
//! [`Datagrams`] del bucle de `recv_from` del curso. Apila, de abajo hacia
//! arriba:
//! - el laboratorio de pérdidas (`laboratorio/lossy.rs`, `--udp-loss`...);
//! - la prueba de dirección con cookie y el límite del triple
//!   (`cookie.rs`);
//! - la entrega confiable de quien la pide (`cliente --udp --reliable`):
//!   un par por dirección (`laboratorio/peers.rs`) que acusa, ordena y
//!   retransmite;
//! - las colas de salida acotadas (`rendimiento/outbox.rs`), que comparten
//!   el techo de memoria con las de TCP.
//!
//! No decide nada del chat: el bucle de `udp` le pregunta y le pasa lo que
//! el chat necesita decidir (si una sesión está probada, si una línea
//! nueva se puede tomar).

use crate::curso::protocolo::MAX_LINE_BYTES;
use crate::curso::seams::{Datagrams, Output, Proof, Reliable};
use crate::extra::laboratorio::peers::{self, Offer, Peers};
use crate::extra::laboratorio::reliable::{MAX_RETRIES, Packet};
use crate::extra::rendimiento::outbox::{Flusher, Link, Outbox};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// La pila del programa completo.
pub struct Stack {
    /// Lo de abajo: la cookie sobre el laboratorio.
    inner: Box<dyn Datagrams>,
    /// Las direcciones en modo confiable.
    peers: Arc<Peers>,
    flusher: Arc<Flusher>,
    /// Límite de bytes pendientes de cada cola (`--max-queue-bytes`).
    queue_limit: usize,
}

impl Stack {
    /// La pila sobre `inner`; las colas usan `flusher` y `queue_limit`
    /// bytes cada una; `pairs_per_ip`: pares del modo confiable a la vez
    /// por dirección IP (0 = sin límite).
    pub fn new(
        inner: Box<dyn Datagrams>,
        flusher: Arc<Flusher>,
        queue_limit: usize,
        pairs_per_ip: usize,
    ) -> Stack {
        Stack {
            inner,
            peers: Arc::new(Peers::new(
                Arc::clone(&flusher),
                pairs_per_ip,
                MAX_LINE_BYTES,
            )),
            flusher,
            queue_limit,
        }
    }
}

impl Datagrams for Stack {
    fn receive(
        &self,
        buffer: &mut [u8],
        each: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<()> {
        self.inner.receive(buffer, each)
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.inner.send_to(bytes, to)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    fn proof<'a>(&self, text: &'a str, from: SocketAddr) -> Proof<'a> {
        self.inner.proof(text, from)
    }

    fn challenge(&self, to: SocketAddr, size: usize) {
        self.inner.challenge(to, size);
    }

    fn may_answer(&self, reply: usize, size: usize) -> bool {
        self.inner.may_answer(reply, size)
    }

    /// Si `to` usa el modo confiable, la línea entra en el emisor de su par
    /// (numerada; quizá sale más tarde, si la ventana está llena: `false`
    /// si no hay lugar); si no, sale tal cual. Si el kernel no puede
    /// enviarla, se pierde: es UDP (y el modo confiable la retransmitirá).
    fn send_line(&self, to: SocketAddr, text: &str) -> bool {
        match self.peers.offer(to, text, Instant::now()) {
            Offer::Plain => {
                let _ = self.inner.send_to(format!("{text}\n").as_bytes(), to);
                true
            }
            Offer::Sent(packets) => {
                for packet in packets {
                    let _ = self.inner.send_to(format!("{packet}\n").as_bytes(), to);
                }
                true
            }
            Offer::Full => false,
        }
    }

    /// Una cola acotada hacia `to` (ver `outbox`), que cuenta para el techo.
    fn output(&self, me: &Arc<dyn Datagrams>, to: SocketAddr) -> Arc<dyn Output> {
        let link = UdpLink {
            socket: Arc::clone(me),
            peers: Arc::clone(&self.peers),
            addr: to,
        };
        Outbox::new(link, self.queue_limit, &self.flusher)
    }

    /// Un datagrama del modo confiable (`:seq <n> <línea>` o `:ack <n>`)
    /// de `from`: pasa por su par (ver `peers`), sale el acuse y vuelven,
    /// en orden, las líneas que ya se pueden entregar.
    ///
    /// Cada datagrama confiable trae la prueba de su sesión (`bound`). Sin
    /// ella no toca nada (ni crea un par, ni entrega, ni acusa, ni mueve la
    /// ventana) y se pide la prueba. Así un datagrama con el origen de otro,
    /// que no recibe lo que se le envía a ese otro, no puede crear cuentas a
    /// su nombre, ni meter líneas en su secuencia, ni acusar lo que el otro
    /// no recibió: TCP se defiende de lo mismo con los números de secuencia
    /// al azar (RFC 6528) y la ventana (RFC 5961); aquí la prueba es
    /// explícita.
    fn reliable(
        &self,
        line: &str,
        from: SocketAddr,
        bound: &dyn Fn() -> bool,
        admits: &mut dyn FnMut(&str, bool) -> bool,
    ) -> Option<Reliable> {
        let packet = Packet::parse(line)?;
        let bound = bound();
        if !bound {
            return Some(Reliable::Unbound);
        }
        // Acusar es aceptar: una línea nueva que se descartaría (el límite
        // de líneas, la cola de entradas llena) no se toma ni se acusa, y el
        // emisor la vuelve a enviar con su plazo, que se duplica: eso lo
        // frena, como a un emisor TCP su ventana.
        if let Packet::Data {
            seq,
            start,
            payload,
        } = &packet
            && let Some(in_order) = self.peers.expects(from, *seq, *start)
            && !admits(payload, in_order)
        {
            return Some(Reliable::Lines(Vec::new()));
        }
        let Some(arrival) = self.peers.arrived(from, packet, bound, Instant::now()) else {
            return Some(Reliable::Unbound);
        };
        for packet in arrival.send {
            let _ = self.inner.send_to(format!("{packet}\n").as_bytes(), from);
        }
        Some(Reliable::Lines(arrival.deliver))
    }

    /// Con algún par en modo confiable, cada [`peers::TICK`].
    fn tick_every(&self) -> Option<Duration> {
        (!self.peers.is_empty()).then_some(peers::TICK)
    }

    /// Sale lo vencido, y se anota a quien se dio por ido (su sesión, si
    /// sigue, termina por inactividad, como la de cualquier usuario UDP que
    /// se fue sin `:q`).
    fn tick(&self, now: Instant, idle: Duration) -> Vec<String> {
        let tick = self.peers.tick(now, idle);
        for (to, packet) in tick.send {
            let _ = self.inner.send_to(format!("{packet}\n").as_bytes(), to);
        }
        tick.gone
            .into_iter()
            .map(|addr| {
                format!(
                    "{addr} (UDP) did not acknowledge {MAX_RETRIES} retransmissions: reliable mode gave up"
                )
            })
            .collect()
    }
}

/// Un destino UDP como [`Link`] de una cola: cada línea sale en su propio
/// datagrama (ver [`Stack::send_line`]).
struct UdpLink {
    socket: Arc<dyn Datagrams>,
    peers: Arc<Peers>,
    addr: SocketAddr,
}

impl Link for UdpLink {
    /// Envía las líneas completas que puede y dice cuántos bytes salieron.
    /// Si el par confiable del destino tiene la ventana llena, lo demás
    /// queda en la cola (`WouldBlock`, como un socket TCP lleno): así lo
    /// que un usuario confiable no acusa cuenta para `--max-queue-bytes` y
    /// para el techo, y no en una segunda cola sin límite.
    fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            // Las líneas de la cola las escribió el servidor: son UTF-8.
            let sent = match std::str::from_utf8(text) {
                Ok(text) => self.socket.send_line(self.addr, text),
                Err(_) => {
                    let _ = self.socket.send_to(text, self.addr);
                    true
                }
            };
            if !sent {
                break;
            }
            taken += line.len();
        }
        if taken == 0 && !bytes.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Lo que el par confiable de este destino guarda (en vuelo, esperando
    /// lugar, adelantado): cuenta para `--max-queue-bytes` del usuario.
    fn held(&self) -> usize {
        self.peers.held(self.addr)
    }

    /// La cola se cerró (el usuario se fue, o pasó su límite): su par, si
    /// lo tiene, deja de aceptar líneas.
    fn close(&self) {
        self.peers.close(self.addr);
    }
}
