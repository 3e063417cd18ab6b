//! El modo confiable del cliente (`cliente --udp --reliable`):
//! cada línea que sale va numerada (`:seq <n> <línea>`) y se retransmite
//! hasta su acuse; cada línea numerada que llega se acusa (`:ack <n>`) y se
//! entrega una vez y en orden. Las máquinas de estados son las de
//! `reliable`, las mismas que usa el servidor (`peers`); aquí solo se
//! enmarcan los datagramas (cookie, token, relleno) y se envían.
//!
//! Estos métodos extienden el `Shared` del núcleo del cliente (un `impl`
//! en otro archivo): el núcleo los llama cuando se pidió `--reliable`. El
//! estado de los dos sentidos ([`Reliable`]) vive en `reliable`, que no
//! conoce al cliente, y así ningún archivo importa a otro que lo importa a
//! él.
//!
//! Va *debajo* de la sesión: también el `:login` viaja numerado, y la cookie
//! que prueba la dirección (ver `cookie` en el servidor) va delante del
//! número, fuera del modo confiable, porque el servidor solo crea el estado
//! de un par para una dirección probada.

use crate::curso::cliente::core::{Shared, State, UNPROVEN_DATAGRAM_BYTES};
use crate::curso::cliente::ending::Ending;
use crate::curso::cliente::screen::Shown;
use crate::curso::sync::lock;
use crate::extra::laboratorio::reliable::{Packet, Reliable, Step};
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Cada cuánto despierta el receptor en modo confiable para revisar el
/// temporizador de retransmisión: mucho menos que el plazo mínimo
/// ([`crate::extra::laboratorio::reliable::MIN_RTO`], 200 ms).
pub(crate) const TICK: Duration = Duration::from_millis(20);

/// El datagrama de `packet`, con lo que va delante: la prueba de la
/// sesión. El servidor solo atiende un datagrama confiable que la trae: la
/// cookie de la dirección (desde que llega, y mientras no haya token o la
/// dirección no esté probada) o el token de la sesión. Sin cookie y sin
/// probar, se rellena con espacios como la sonda del modo sin confianza (el
/// servidor responde a una dirección sin probar a lo sumo el triple de lo
/// recibido, y la cookie debe caber).
fn frame(state: &State, packet: &Packet) -> String {
    let mut datagram = String::new();
    let needs_cookie = state.token.is_none() || !state.udp_proven;
    if let Some(cookie) = state.cookie.as_ref().filter(|_| needs_cookie) {
        datagram.push_str(cookie);
        datagram.push(' ');
    }
    if let Some(token) = &state.token {
        datagram.push_str(token);
        datagram.push(' ');
    }
    datagram.push_str(&packet.to_line());
    if needs_cookie && state.cookie.is_none() {
        let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
        datagram.push_str(&" ".repeat(pad));
    }
    datagram.push('\n');
    datagram
}

impl Shared {
    fn reliable(&self) -> Option<std::sync::MutexGuard<'_, Reliable>> {
        self.reliable.as_ref().map(lock)
    }

    fn send_packets(&self, udp: &UdpSocket, state: &State, packets: &[Packet]) -> io::Result<()> {
        for packet in packets {
            self.transmit(udp, frame(state, packet).as_bytes())?;
        }
        Ok(())
    }

    /// Una línea del usuario en modo confiable: entra en el emisor y sale
    /// lo que cabe en la ventana. `state` ya está tomado (el orden de los
    /// candados: `state` y después el modo confiable).
    pub(crate) fn send_reliable(
        &self,
        udp: &UdpSocket,
        state: &State,
        line: &str,
    ) -> io::Result<()> {
        let step = match self.reliable() {
            Some(mut reliable) => {
                reliable.sender.offer(line.to_string());
                reliable.sender.poll(Instant::now())
            }
            None => return Ok(()),
        };
        match step {
            Step::Send(packets) => self.send_packets(udp, state, &packets),
            // Se atiende en `reliable_tick`, que cierra la sesión.
            Step::Gone => Ok(()),
        }
    }

    /// Llegó la cookie: lo enviado sin ella se descartó en el servidor, así
    /// que sale todo otra vez, ya con la cookie, sin esperar al
    /// temporizador.
    pub(crate) fn resend_reliable(&self, udp: &UdpSocket, state: &State) {
        let packets = match self.reliable() {
            Some(mut reliable) => reliable.sender.resend_now(Instant::now()),
            None => return,
        };
        let _ = self.send_packets(udp, state, &packets);
    }

    /// Una línea de un datagrama del servidor, en modo confiable. Si es del
    /// modo confiable, devuelve las líneas que ya se pueden mostrar (quizá
    /// ninguna: un acuse, un repetido, uno adelantado) y envía el acuse;
    /// si no (la cookie, que va fuera del modo confiable), `None`.
    pub(crate) fn reliable_arrival(&self, udp: &UdpSocket, line: &str) -> Option<Vec<String>> {
        self.reliable.as_ref()?;
        let packet = Packet::parse(line)?;
        let mut state = self.lock();
        state.heard_udp = true;
        let now = Instant::now();
        let (deliver, send) = {
            let mut reliable = self.reliable()?;
            match packet {
                Packet::Data {
                    seq,
                    start,
                    payload,
                } => {
                    let (deliver, ack) = reliable.receiver.on_data(seq, start, payload);
                    (deliver, ack.into_iter().collect())
                }
                Packet::Ack { next, sacked } => {
                    // Un acuse falso se descarta dentro del emisor.
                    let _ = reliable.sender.on_ack(next, &sacked, now);
                    // El acuse pudo abrir lugar en la ventana.
                    match reliable.sender.poll(now) {
                        Step::Send(packets) => (Vec::new(), packets),
                        Step::Gone => (Vec::new(), Vec::new()),
                    }
                }
            }
        };
        // Un datagrama numerado del servidor es una respuesta de verdad: la
        // dirección está probada. La cookie se guarda: hasta que llegue el
        // token, es la prueba de cada datagrama.
        if !deliver.is_empty() {
            state.udp_proven = true;
        }
        let _ = self.send_packets(udp, &state, &send);
        Some(deliver)
    }

    /// El temporizador, llamado cada [`TICK`] por el receptor: retransmite
    /// lo vencido y, si el servidor no acusó nada tras `--retries`
    /// retransmisiones seguidas, termina la sesión como
    /// [`Ending::Lost`].
    pub(crate) fn reliable_tick(&self, udp: &UdpSocket) {
        if self.reliable.is_none() {
            return;
        }
        let mut state = self.lock();
        if state.closed {
            return;
        }
        let (step, retries) = match self.reliable() {
            Some(mut reliable) => (reliable.sender.poll(Instant::now()), reliable.retries),
            None => return,
        };
        match step {
            Step::Send(packets) => {
                let _ = self.send_packets(udp, &state, &packets);
            }
            Step::Gone => {
                state.ending = Some(Ending::Lost);
                state.closed = true;
                drop(state);
                self.changed.notify_all();
                self.screen.show(Shown::ReliableGone { retries });
            }
        }
    }

    /// `true` si no hay modo confiable o si todo lo enviado tiene su acuse.
    pub(crate) fn reliable_idle(&self) -> bool {
        self.reliable().is_none_or(|r| r.sender.is_idle())
    }

    /// Al terminar, en modo confiable: cuánto se retransmitió y cuánto
    /// repetido se descartó.
    pub(crate) fn show_reliable_counts(&self) {
        let counts = self
            .reliable()
            .map(|r| (r.sender.retransmissions, r.receiver.duplicates));
        if let Some((retransmitted, duplicates)) = counts {
            self.screen.show(Shown::ReliableCounts {
                retransmitted,
                duplicates,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_goes_before_the_token_and_the_sequence_number() {
        let tuning = crate::curso::cliente::core::UdpTuning {
            keepalive: Duration::from_secs(60),
            impairment: crate::extra::laboratorio::lossy::Impairment {
                loss: 0.0,
                dup: 0.0,
                reorder: 0.0,
            },
            seed: 1,
            reliable: Some(3),
        };
        let screen = std::sync::Arc::new(crate::curso::cliente::Lines::new(Vec::new()));
        let server = "127.0.0.1:5500".parse().expect("dirección");
        let shared = Shared::new(screen, server, None, tuning);
        let mut state = shared.lock();
        let packet = Packet::Data {
            seq: 0,
            start: None,
            payload: ":login ana clave".into(),
        };
        let probe = frame(&state, &packet);
        assert_eq!(probe.len(), UNPROVEN_DATAGRAM_BYTES, "rellenada: {probe:?}");
        assert!(probe.starts_with(":seq 0 :login ana clave "));
        state.cookie = Some("C0OKIE".into());
        assert_eq!(frame(&state, &packet), "C0OKIE :seq 0 :login ana clave\n");
        state.token = Some("T0KEN".into());
        state.udp_proven = true;
        assert_eq!(
            frame(
                &state,
                &Packet::Ack {
                    next: 4,
                    sacked: vec![6]
                }
            ),
            "T0KEN :ack 4 6\n",
            "probada: sin cookie ni relleno"
        );
    }
}
