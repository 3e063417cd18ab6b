//! El modo confiable del cliente (`cliente --udp --reliable`): cada línea
//! que sale va numerada (`:seq <n> <línea>`) y se retransmite hasta su
//! acuse; cada línea numerada que llega se acusa (`:ack <n>`) y se entrega
//! una vez y en orden. Las máquinas de estados son las de `reliable`, las
//! mismas que usa el servidor (`peers`).
//!
//! [`ReliableClient`] es lo que el cliente enchufa en su punto
//! [`ReliableMode`] cuando se pide `--reliable`: traduce entre las líneas
//! del cliente y los paquetes de `reliable`. No enmarca ni envía nada: eso
//! (la cookie, el token, el relleno, el enlace) es del cliente.

use crate::curso::cliente::screen::{Screen, Shown};
use crate::curso::sync::lock;
use crate::extra::cliente::seams::{Arrival, Gone, ReliableMode};
use crate::extra::laboratorio::alarm::Alarm;
use crate::extra::laboratorio::reliable::{Packet, Reliable, Step};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// El modo confiable de una sesión del cliente: los dos sentidos.
pub struct ReliableClient {
    /// El candado: lo usan el hilo que envía (las líneas del usuario), el
    /// que recibe (los acuses) y el de los temporizadores. El cliente lo
    /// toma siempre *después* del de su estado, nunca al revés.
    reliable: Mutex<Reliable>,
    /// El despertador del hilo de los temporizadores: los plazos del emisor
    /// (la sonda, el umbral de tiempo) vencen a milisegundos del envío, y
    /// un plazo de lectura en el socket no sirve para esperarlos (Linux lo
    /// redondea a sus tics: 2 ms esperaban 8).
    alarm: Alarm,
}

impl ReliableClient {
    /// Un modo confiable que da al servidor por ido tras `retries`
    /// retransmisiones seguidas sin acuse (`--retries`).
    pub fn new(retries: u32) -> ReliableClient {
        ReliableClient {
            reliable: Mutex::new(Reliable::new(retries)),
            alarm: Alarm::default(),
        }
    }

    fn reliable(&self) -> MutexGuard<'_, Reliable> {
        lock(&self.reliable)
    }

    /// Anota en el despertador el próximo plazo del emisor, si tiene.
    fn arm(&self, reliable: &Reliable) {
        if let Some(at) = reliable.sender.deadline() {
            self.alarm.arm(at);
        }
    }
}

/// Las líneas de `packets`, para el cliente.
fn lines(packets: &[Packet]) -> Vec<String> {
    packets.iter().map(Packet::to_line).collect()
}

/// Lo que sale tras un paso del emisor: nada si ya se rindió (el
/// temporizador lo dice, en [`ReliableMode::tick`]).
fn sent(step: Step) -> Vec<String> {
    match step {
        Step::Send(packets) => lines(&packets),
        Step::Gone => Vec::new(),
    }
}

impl ReliableMode for ReliableClient {
    fn wait(&self, limit: Duration) {
        let limit = Instant::now() + limit;
        let next = self.reliable().sender.deadline();
        self.alarm
            .wait_until(next.map_or(limit, |at| at.min(limit)));
    }

    fn interrupt(&self) {
        self.alarm.arm(Instant::now());
    }

    fn send(&self, line: &str, now: Instant) -> Vec<String> {
        let mut reliable = self.reliable();
        reliable.sender.offer(line.to_string());
        let out = sent(reliable.sender.poll(now));
        self.arm(&reliable);
        out
    }

    fn resend(&self, now: Instant) -> Vec<String> {
        let mut reliable = self.reliable();
        let out = lines(&reliable.sender.resend_now(now));
        self.arm(&reliable);
        out
    }

    fn arrival(&self, line: &str, now: Instant) -> Option<Arrival> {
        let packet = Packet::parse(line)?;
        let mut reliable = self.reliable();
        Some(match packet {
            Packet::Data {
                seq,
                start,
                payload,
            } => {
                let (deliver, ack) = reliable.receiver.on_data(seq, start, payload);
                Arrival {
                    deliver,
                    send: ack.iter().map(Packet::to_line).collect(),
                }
            }
            Packet::Ack { next, sacked } => {
                // Un acuse falso se descarta dentro del emisor.
                let _ = reliable.sender.on_ack(next, &sacked, now);
                // El acuse pudo abrir lugar en la ventana, o dejar un hueco
                // por perdido (sale ya) o a la espera del umbral de tiempo.
                let send = sent(reliable.sender.poll(now));
                self.arm(&reliable);
                Arrival {
                    deliver: Vec::new(),
                    send,
                }
            }
        })
    }

    fn tick(&self, now: Instant) -> Result<Vec<String>, Gone> {
        let mut reliable = self.reliable();
        match reliable.sender.poll(now) {
            Step::Send(packets) => Ok(lines(&packets)),
            Step::Gone => Err(Gone {
                retries: reliable.retries,
            }),
        }
    }

    fn is_idle(&self) -> bool {
        self.reliable().sender.is_idle()
    }

    /// Al terminar: cuánto se retransmitió y cuánto repetido se descartó.
    fn finish(&self, screen: &dyn Screen) {
        let (retransmitted, duplicates) = {
            let reliable = self.reliable();
            (
                reliable.sender.retransmissions,
                reliable.receiver.duplicates,
            )
        };
        let text = format!(
            "Reliable UDP: this client retransmitted {retransmitted} datagrams \
             and discarded {duplicates} duplicates."
        );
        screen.show(Shown::Note {
            text,
            warning: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Una línea sale numerada; su acuse deja al emisor sin nada en vuelo;
    /// una línea numerada que llega se entrega y se acusa; lo que no es de
    /// la entrega confiable (la cookie) no es asunto suyo.
    #[test]
    fn lines_go_out_numbered_and_come_in_acknowledged() {
        let client = ReliableClient::new(3);
        let now = Instant::now();
        // El primero dice dónde empieza la numeración (`n/n`), al azar.
        let sent = client.send(":login ana clave", now);
        let Some(Packet::Data {
            seq,
            start,
            payload,
        }) = Packet::parse(&sent[0])
        else {
            panic!("no es un dato: {sent:?}");
        };
        assert_eq!((start, payload.as_str()), (Some(seq), ":login ana clave"));
        assert!(!client.is_idle());
        let acked = client.arrival(&format!(":ack {}", seq.wrapping_add(1)), now);
        assert_eq!(acked, Some(Arrival::default()));
        assert!(client.is_idle());
        let data = client.arrival(":seq 7/7 hola", now).expect("un dato");
        assert_eq!(data.deliver, ["hola"]);
        assert_eq!(data.send, [":ack 8"]);
        assert_eq!(client.arrival("[SERVER] Client: COOKIE ab12", now), None);
    }

    /// Sin acuses, el temporizador retransmite y, tras los reintentos, se
    /// rinde con cuántos fueron.
    #[test]
    fn without_acks_the_timer_gives_up_after_the_retries() {
        let client = ReliableClient::new(2);
        let start = Instant::now();
        assert_eq!(client.send("hola", start).len(), 1);
        let mut now = start;
        let mut resent = 0;
        let gone = loop {
            now += Duration::from_secs(120);
            match client.tick(now) {
                Ok(lines) => resent += lines.len(),
                Err(gone) => break gone,
            }
            assert!(resent <= 10, "no se rinde");
        };
        assert_eq!(gone, Gone { retries: 2 });
        assert_eq!(resent, 2);
    }
}
