//! La prueba de la dirección UDP, del lado del cliente. Un servidor puede
//! pedirle a una dirección que pruebe que recibe lo que se le envía antes
//! de atenderla (una *cookie*, como el *Retry* de QUIC, RFC 9000 §8): a
//! una dirección sin probar le responde a lo sumo el triple de lo que
//! recibió, y solo una cookie corta. El del curso confía en la dirección
//! de origen y nunca la pide; el cliente sabe responderle a uno que sí.
//!
//! Mientras la dirección no está probada sale un solo datagrama, la sonda,
//! rellenado para que la cookie quepa en la respuesta, y los demás esperan;
//! con la cookie salen todos con ella delante, y con la primera respuesta
//! de verdad, tal cual.

use super::core::Shared;
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Hasta cuántos bytes se rellena un datagrama mientras la dirección UDP no
/// está probada: con 64, el triple (lo más que el servidor responde a una
/// dirección sin probar) deja lugar de sobra para la cookie.
pub(crate) const UNPROVEN_DATAGRAM_BYTES: usize = 64;

/// Modo confiable: entre dos veces que lo que está en vuelo sale otra vez
/// porque llegó una cookie, al menos esto. El servidor responde con una
/// cookie a cada datagrama que no reconoce, así que llegan varias seguidas;
/// y sin tope, quien falsificara cookies con la dirección del servidor
/// haría que el cliente le enviara su ventana entera (hasta 32 datagramas)
/// por cada una. Entre una vez y otra, lo que sale (lo nuevo y lo que
/// retransmite el temporizador) ya lleva la última cookie.
pub(crate) const COOKIE_RESEND_GAP: Duration = Duration::from_millis(100);

impl Shared {
    /// Envía `line` por UDP (con el token delante, si hay).
    ///
    /// Mientras la dirección no está probada (ver `cookie` en el servidor),
    /// sale un solo datagrama, la sonda, rellenado con espacios hasta
    /// [`UNPROVEN_DATAGRAM_BYTES`] (el servidor responde a una dirección sin
    /// probar a lo sumo el triple de lo que recibió, y la cookie no cabría
    /// en el triple de `:login a b`); los siguientes esperan en
    /// `unproven`. Cuando llega la cookie, salen todos con ella delante, en
    /// orden ([`Shared::resend_with_cookie`]), y los que vengan después la
    /// llevan también, hasta la primera respuesta de verdad. Si se enviaran
    /// todos sin esperar, el servidor atendería algunos directamente (los
    /// que llegan tras la prueba) y otros con la cookie, repetidos y en
    /// otro orden.
    ///
    /// Se envía con el candado tomado: así nada se cuela entre los
    /// reenviados con la cookie y los nuevos. Un envío UDP no espera a
    /// nadie.
    pub(crate) fn send_datagram(
        &self,
        udp: &UdpSocket,
        token: Option<&str>,
        line: &str,
    ) -> io::Result<()> {
        let mut state = self.lock();
        state.last_udp_send = Instant::now();
        state.pings += u64::from(line.trim() == ":ping");
        if self.reliable.is_some() {
            // El modo confiable enmarca a su manera (cookie, token, número).
            return self.send_reliable(udp, &state, line);
        }
        let mut datagram = match token {
            Some(token) => format!("{token} {line}"),
            None => line.to_string(),
        };
        if !state.udp_proven {
            if let Some(cookie) = &state.cookie {
                datagram = format!("{cookie} {datagram}");
            } else {
                if let Some(token) = token.filter(|_| state.unproven.is_empty())
                    && line.trim() != ":ping"
                {
                    // La sonda tiene que recibir respuesta: la cookie, o (un
                    // servidor que confía en la dirección, el del curso) la
                    // de la línea misma. Un mensaje a la sala no recibe
                    // ninguna, y lo que esperara detrás no saldría nunca.
                    // La sonda es entonces un `:ping`, cuyo `pong` no se
                    // muestra, y la línea espera detrás.
                    state.pings += 1;
                    state.auto_pings += 1;
                    let probe = padded(format!("{token} :ping"));
                    state.unproven.push(probe.clone());
                    self.transmit(udp, format!("{probe}\n").as_bytes())?;
                }
                datagram = padded(datagram);
                state.unproven.push(datagram.clone());
                if state.unproven.len() > 1 {
                    // Ya hay una sonda en camino: este espera la cookie.
                    return Ok(());
                }
            }
        }
        datagram.push('\n');
        self.transmit(udp, datagram.as_bytes())
    }

    /// El servidor pidió probar la dirección: salen, con la cookie delante
    /// y en orden, los datagramas que esperaban, y la cookie queda para los
    /// siguientes. La cookie vale para todos (es de la dirección), y cada
    /// uno sale una sola vez: las cookies que lleguen después ya no
    /// encuentran nada que repetir.
    ///
    /// En modo confiable la cookie es la prueba de cada datagrama hasta que
    /// llegue el token, así que una nueva (la anterior venció) se guarda
    /// aunque la dirección ya esté probada, y lo que está en vuelo sale otra
    /// vez con ella.
    ///
    /// Con token y la dirección probada, una cookie quiere decir que el
    /// servidor ya no reconoce esta dirección: un NAT cambió el puerto (o
    /// la dirección) con que salen los datagramas. Se vuelve a probar: la
    /// cookie va delante de cada datagrama hasta la próxima línea numerada
    /// del servidor, y el servidor muda la sesión, con su secuencia. Si se
    /// la ignorara, nada de lo enviado volvería a entrar.
    pub(crate) fn resend_with_cookie(&self, udp: &UdpSocket, cookie: &str) {
        let mut state = self.lock();
        if self.reliable.is_some() {
            state.udp_proven = false;
            state.cookie = Some(cookie.to_string());
            let now = Instant::now();
            let recent = state
                .cookie_resent
                .is_some_and(|at| now.saturating_duration_since(at) < COOKIE_RESEND_GAP);
            if !recent {
                state.cookie_resent = Some(now);
                self.resend_reliable(udp, &state);
            }
            return;
        }
        // Con la dirección ya probada, solo una entrada repetida espera la
        // cookie (ver [`Shared::retry`]); la cookie se guarda igual, para
        // la próxima repetición.
        state.cookie = Some(cookie.to_string());
        for datagram in std::mem::take(&mut state.unproven) {
            let _ = self.transmit(udp, format!("{cookie} {datagram}\n").as_bytes());
        }
    }

    /// Llegó una respuesta de verdad por UDP: la dirección está probada. Lo
    /// que esperaba detrás de la sonda (la cookie nunca llegó) sale ahora,
    /// tal cual.
    pub(crate) fn proven(&self, udp: &UdpSocket) {
        let mut state = self.lock();
        if state.udp_proven {
            return;
        }
        state.udp_proven = true;
        // El primero ya salió (es la sonda, o su repetición) y es el que
        // tiene respuesta: un servidor que confía en la dirección de origen
        // (el del curso) lo atendió sin pedir cookie. Repetirlo lo haría
        // atender dos veces: un `pong` de más, un `:login` repetido.
        for datagram in std::mem::take(&mut state.unproven).into_iter().skip(1) {
            let _ = self.transmit(udp, format!("{datagram}\n").as_bytes());
        }
    }
}

/// `datagram` rellenado con espacios hasta [`UNPROVEN_DATAGRAM_BYTES`]
/// (contando su `\n`): lo que se envía a una dirección sin probar.
pub(super) fn padded(mut datagram: String) -> String {
    let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
    datagram.push_str(&" ".repeat(pad));
    datagram
}
