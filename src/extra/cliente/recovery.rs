//! Lo que el cliente hace cuando UDP pierde: un datagrama perdido no se
//! reenvía solo, y sin respuesta el usuario esperaría para siempre. Antes
//! de entrar a la sala, cada línea por UDP espera su respuesta y, si no
//! llega, se repite lo que es seguro repetir ([`Shared::retry`]); las copias
//! tardías de una respuesta repetida no se muestran
//! ([`Shared::is_stale`]); el `:q` se repite hasta la despedida, y en
//! silencio un `:ping` mantiene viva la sesión. Toda espera termina.

use super::core::{Entry, Shared, State};
use super::ending::Ending;
use super::proof::padded;
use super::screen::Shown;
use crate::curso::protocolo::{self, Command, Event};
use crate::curso::sync::wait_timeout_while;
use std::net::UdpSocket;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// Cuántas veces se envía, como mucho, una línea por UDP antes de entrar a
/// la sala si el servidor no responde nada, y cuánto se espera cada vez
/// (sin medir el tiempo de ida y vuelta, 1 s es lo que RFC 8085 §3.1.3
/// recomienda): un datagrama perdido no se reenvía solo, y sin respuesta
/// el usuario quedaría esperando para siempre. Diez, porque la pérdida del
/// laboratorio también se lleva la sonda y la cookie (con 30 % en cada
/// sentido, cada ida y vuelta falla la mitad de las veces, y diez seguidas,
/// una vez en mil); un servidor que no existe se nota antes, en el mismo
/// equipo, por el ICMP "puerto inalcanzable".
const UDP_TRIES: u32 = 10;

const UDP_RETRY: Duration = Duration::from_secs(1);

/// Cuántas veces se envía, como mucho, una línea antes de entrar a la sala
/// cuando el servidor ya respondió algo (está, pero la línea o su
/// respuesta se perdieron). Cada repetición es segura: una entrada repetida
/// recibe la misma respuesta (el servidor la reconoce), y en vez de repetir
/// el saldo se pregunta `:funds` (ver [`Shared::retry`]). Con 30 % de
/// pérdida en cada sentido, doce idas y vueltas fallan seguidas menos de
/// una vez en mil; después, la sesión termina como [`Ending::Lost`].
const HEARD_UDP_TRIES: u32 = 12;

/// Cada cuánto se repite el `:q` mientras no llega la despedida (ver
/// [`Shared::repeat_quit`]): más seguido que las líneas de antes de
/// entrar, porque ya no hay nada más que esperar.
const QUIT_RETRY: Duration = Duration::from_millis(500);

/// Tras cuántos `:ping` de mantenimiento sin respuesta se avisa que el
/// servidor no contesta.
const UNANSWERED_KEEPALIVES: u32 = 2;

impl Shared {
    /// `true` si `event` es, en modo `--udp`, la copia tardía de una
    /// respuesta que ya llegó: el cliente repite una entrada o pregunta
    /// `:funds` cuando una respuesta no llega a tiempo (ver
    /// [`Shared::retry`]), y a veces llegan las dos, la tardía y la nueva.
    /// Una copia no se muestra ni cuenta como respuesta: si contara, la
    /// línea siguiente del usuario saldría antes de tiempo, quizá como el
    /// saldo. Se reconocen porque el servidor nunca las enviaría en esa
    /// etapa: la bienvenida ya entrado, y la pregunta del saldo ya en la
    /// sala, o esperando el saldo sin un error justo antes (la pregunta
    /// legítima sigue a "no es un saldo").
    pub(super) fn is_stale(&self, state: &State, event: &Option<Event>) -> bool {
        if self.tcp_mode {
            return false;
        }
        match event {
            Some(Event::Welcome) => state.entry != Entry::Outside,
            Some(Event::AskBalance) => match state.entry {
                Entry::Joined => true,
                Entry::AwaitingBalance => !state.after_error,
                Entry::Outside => false,
            },
            _ => false,
        }
    }

    /// Como [`Shared::wait_for_reply`], para `line`, enviada por UDP antes
    /// de entrar a la sala: si no llega respuesta en [`UDP_RETRY`], la
    /// repite ([`Shared::retry`]). Si el servidor nunca respondió nada, o
    /// el sistema avisó que nadie escucha en ese puerto, tras [`UDP_TRIES`]
    /// intentos cierra la sesión como [`Ending::Unreachable`]; si ya
    /// respondió algo, tras [`HEARD_UDP_TRIES`], como [`Ending::Lost`]. En
    /// ambos casos devuelve `false`. Toda espera termina: como mucho unos
    /// 15 s por línea.
    pub(super) fn wait_for_udp_reply(&self, line: &str, mut before: u64, udp: &UdpSocket) -> bool {
        let mut attempt = 1;
        // Los intentos se cuentan de nuevo desde que el servidor respondió
        // algo: antes se buscaba un servidor, después, una respuesta.
        let mut heard_before = false;
        loop {
            let state = self.lock();
            let (mut state, _) = wait_timeout_while(&self.changed, state, UDP_RETRY, |s| {
                s.replies == before && !s.closed && !s.udp_refused
            });
            if state.closed {
                return true;
            }
            if state.replies != before {
                // Llegó: una entrada repetida que todavía esperaba la cookie
                // ya no hace falta.
                if state.udp_proven && self.reliable.is_none() {
                    state.unproven.clear();
                }
                // La respuesta a la sonda del saldo: si el servidor todavía
                // lo pregunta y esta línea era el saldo, no llegó, y sale
                // otra vez. (Si era la entrada, la sonda la completó.)
                let resend = std::mem::take(&mut state.probing_balance)
                    && state.entry == Entry::AwaitingBalance
                    && !signs_in(line);
                if !resend {
                    return true;
                }
                before = state.replies;
                let token = state.token.clone();
                drop(state);
                let _ = self.send_datagram(udp, token.as_deref(), line);
                continue;
            }
            let heard = state.heard_udp;
            if heard && !std::mem::replace(&mut heard_before, true) {
                attempt = 1;
            }
            if self.reliable.is_some() && heard {
                // Respondió algo (la cookie): el emisor confiable
                // retransmite solo, y la respuesta viene en camino.
                drop(state);
                self.wait_for_reply(before);
                return true;
            }
            let gives_up = if heard {
                attempt >= HEARD_UDP_TRIES
            } else {
                state.udp_refused || attempt >= UDP_TRIES
            };
            if gives_up {
                state.ending = Some(if heard {
                    Ending::Lost
                } else {
                    Ending::Unreachable
                });
                state.closed = true;
                drop(state);
                self.changed.notify_all();
                return false;
            }
            attempt += 1;
            self.retry(udp, state, line);
            if !heard {
                let text = format!(
                    "No answer from the server yet: the datagram or its reply may have been lost. \
                     Sending it again ({attempt}/{UDP_TRIES})."
                );
                self.screen.show(Shown::Note {
                    text,
                    warning: true,
                });
            }
        }
    }

    /// Nada llegó al servidor, o nada volvió, para `line`: se repite lo
    /// que es seguro repetir.
    /// - Con el token ya recibido, esperando el saldo (o lo que sigue al
    ///   token), no el saldo: si el servidor lo tomó y solo se perdió la
    ///   respuesta, repetido sería un mensaje a la sala. Sale `:funds`, que
    ///   en la sala responde el saldo (y el cliente entra) y antes de
    ///   entrar recibe "no es un saldo" y la pregunta otra vez (y el saldo
    ///   sale de nuevo, ver [`Shared::wait_for_udp_reply`]).
    /// - Si algo espera la cookie (`unproven`), lo primero de eso: la sonda.
    /// - Si no, la misma línea: una entrada repetida recibe la misma
    ///   respuesta. Una sin token (`:login`, `:register`) lleva la última
    ///   cookie, y queda en `unproven` por si venció.
    ///
    /// En modo confiable, todo lo que está en vuelo, ya, sin esperar al
    /// plazo duplicado del emisor (que sin ninguna medición empieza en 1 s
    /// y va por 2 y 4).
    fn retry(&self, udp: &UdpSocket, mut state: MutexGuard<'_, State>, line: &str) {
        if self.reliable.is_some() {
            self.resend_reliable(udp, &state);
            return;
        }
        // Con el token ya en la mano, esperando el saldo o lo que sigue al
        // token (la pregunta, o el saldo, se perdió), la sonda `:funds` dice
        // en qué etapa está la sesión, con una respuesta más corta que la
        // entrada entera. La entrada ya no se repite.
        if let Some(token) = state.token.clone()
            && (signs_in(line) || state.entry == Entry::AwaitingBalance)
        {
            state.probing_balance = true;
            state.unproven.clear();
            drop(state);
            let _ = self.transmit(udp, format!("{token} :funds\n").as_bytes());
            return;
        }
        // Con la cookie que ya dio el servidor, si la hay: así una ida y
        // vuelta basta (si venció, la respuesta es otra cookie, y
        // `resend_with_cookie` repite lo que espera en `unproven`).
        let datagram = match (state.unproven.first(), &state.token) {
            (Some(first), _) => first.clone(),
            (None, Some(token)) => format!("{token} {line}"),
            (None, None) => {
                let datagram = padded(line.to_string());
                state.unproven.push(datagram.clone());
                datagram
            }
        };
        let bytes = match &state.cookie {
            Some(cookie) if state.token.is_none() => format!("{cookie} {datagram}\n"),
            _ => format!("{datagram}\n"),
        };
        drop(state);
        let _ = self.transmit(udp, bytes.as_bytes());
    }

    /// Modo `--udp`, llamado cada tanto por el receptor: tras
    /// [`Shared::keepalive`] sin enviar nada, un `:ping` para que el
    /// servidor no dé la sesión por abandonada (`--udp-idle-secs`). Si los
    /// últimos quedaron sin respuesta, lo avisa una vez.
    pub(crate) fn keep_alive(&self, udp: &UdpSocket) {
        let (token, warn) = {
            let mut state = self.lock();
            let idle = state.last_udp_send.elapsed() >= self.keepalive;
            let Some(token) = state.token.clone().filter(|_| idle) else {
                return;
            };
            if state.entry != Entry::Joined || state.closed || state.input_done {
                return;
            }
            let warn = state.auto_pings >= UNANSWERED_KEEPALIVES && !state.warned_silence;
            state.warned_silence |= warn;
            state.auto_pings += 1;
            (token, warn)
        };
        if warn {
            let text = "The server has not answered the last keepalives: \
                        it may be gone, or the datagrams were lost.";
            self.screen.show(Shown::Note {
                text: text.to_string(),
                warning: true,
            });
        }
        let _ = self.send_datagram(udp, Some(&token), ":ping");
    }

    /// Modo `--udp` sin `--reliable`, llamado cada tanto por el receptor:
    /// tras el `:q` (escrito, o el del fin de la entrada), si la despedida
    /// no llegó en [`QUIT_RETRY`], el `:q` sale otra vez. El `:q` o la
    /// despedida pudieron perderse; si el servidor ya cerró la sesión, la
    /// respuesta es "token desconocido", que el receptor toma como la
    /// despedida. El modo confiable no lo necesita: retransmite solo.
    pub(crate) fn repeat_quit(&self, udp: &UdpSocket) {
        let token = {
            let state = self.lock();
            if self.reliable.is_some()
                || !state.input_done
                || state.said_goodbye
                || state.closed
                || state.last_udp_send.elapsed() < QUIT_RETRY
            {
                return;
            }
            let Some(token) = state.token.clone() else {
                return;
            };
            token
        };
        // Relleno, como una sonda: si el servidor ya cerró la sesión, su
        // "token desconocido" va a una dirección que ya no está probada, y
        // tiene que caber en el triple de lo que recibió.
        self.lock().last_udp_send = Instant::now();
        let datagram = padded(format!("{token} :q"));
        let _ = self.transmit(udp, format!("{datagram}\n").as_bytes());
    }
}

/// `true` si `line` es una entrada (`:login` o `:register`).
fn signs_in(line: &str) -> bool {
    matches!(
        protocolo::parse_command(line),
        Ok(Some(Command::Login { .. } | Command::Register { .. }))
    )
}
