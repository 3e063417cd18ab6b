//! La *cookie* de dirección del lado UDP: cómo prueba un cliente que de
//! verdad recibe en la dirección de la que dice venir, antes de que el
//! servidor haga trabajo por él o le envíe algo grande.
//!
//! UDP no tiene handshake: la dirección de origen de un datagrama se
//! falsifica gratis. Sin esta prueba, cualquiera podría hacer que el
//! servidor calcule hashes de Argon2 o bloquee la dirección de otro, o
//! usarlo de amplificador (un datagrama chico con el origen de la víctima
//! que el servidor responde con uno grande). La solución es la de DTLS
//! (*HelloVerifyRequest*, RFC 6347 §4.2.1) y QUIC (*Retry*, RFC 9000 §8.1):
//! a una dirección sin probar, el servidor solo le responde una cookie
//! corta; el cliente la devuelve delante de su pedido, y eso prueba que
//! recibe ahí.
//!
//! La cookie no ocupa memoria en el servidor (*stateless*): es un MAC
//! (BLAKE2s con clave, RFC 7693) de la dirección y de la ventana de tiempo
//! en curso, con una clave elegida al azar al arrancar. Vale en su ventana
//! y en la siguiente ([`WINDOW`]): entre uno y dos minutos. Sin la clave
//! nadie puede calcularla, y la de una dirección no sirve para otra.
//!
//! [`Cookies`] es código puro: el instante entra como parámetro. La pila
//! del socket del programa completo (`datagrams.rs`) lo usa: separa y
//! comprueba la cookie de lo que llega, y arma el pedido de la prueba con
//! [`challenge_line`].

use crate::curso::protocolo::SERVER_PREFIX;
use blake2::Blake2sMac256;
use blake2::digest::{KeyInit, Mac};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Cuánto puede medir, como mucho, la respuesta a un datagrama de una
/// dirección sin probar, en veces el tamaño del datagrama (el límite
/// anti-amplificación de QUIC, RFC 9000 §8.1).
pub const AMPLIFICATION: usize = 3;

/// `true` si una respuesta de `reply` bytes cabe en el límite
/// anti-amplificación de un datagrama de `size` bytes.
pub fn fits(reply: usize, size: usize) -> bool {
    reply <= size.saturating_mul(AMPLIFICATION)
}

/// El pedido de la prueba para `cookie`, en respuesta a un datagrama de
/// `size` bytes: la frase entera si cabe en el triple, si no la forma
/// corta, y nada si ni esa cabe (un datagrama de menos de 8 bytes).
pub fn challenge_line(cookie: &str, size: usize) -> Option<String> {
    let sentence = cookie_notice_line(cookie);
    let line = if fits(sentence.len(), size) {
        sentence
    } else {
        cookie_short_line(cookie)
    };
    fits(line.len(), size).then_some(line)
}

/// Cada cuánto cambia la ventana de tiempo de las cookies.
pub const WINDOW: Duration = Duration::from_secs(60);

/// El emisor y verificador de cookies de un servidor.
pub struct Cookies {
    key: [u8; 32],
    start: Instant,
}

impl Cookies {
    /// Uno con la clave `key` (32 bytes al azar) y el reloj de las ventanas
    /// empezando en `start`.
    pub fn new(key: [u8; 32], start: Instant) -> Cookies {
        Cookies { key, start }
    }

    /// Uno con una clave al azar del generador del sistema.
    pub fn random(start: Instant) -> Cookies {
        Cookies::new(rand::random(), start)
    }

    /// La cookie de `addr` en el instante `now`: 16 caracteres `0-9 a-f`.
    pub fn issue(&self, addr: SocketAddr, now: Instant) -> String {
        self.mac(addr, self.window(now))
    }

    /// `true` si `cookie` es la de `addr` en la ventana de `now` o en la
    /// anterior (así una cookie emitida justo antes del cambio de ventana
    /// sigue valiendo al volver).
    pub fn check(&self, addr: SocketAddr, cookie: &str, now: Instant) -> bool {
        let window = self.window(now);
        let matches = |w: u64| constant_time_eq(self.mac(addr, w).as_bytes(), cookie.as_bytes());
        matches(window) | (window > 0 && matches(window - 1))
    }

    fn window(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs() / WINDOW.as_secs()
    }

    fn mac(&self, addr: SocketAddr, window: u64) -> String {
        // La clave tiene el largo que BLAKE2s acepta (hasta 32 bytes).
        let Ok(mut mac) = Blake2sMac256::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(addr.to_string().as_bytes());
        mac.update(&window.to_le_bytes());
        let tag = mac.finalize().into_bytes();
        tag.iter()
            .take(COOKIE_CHARS / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Compara sin cortar en la primera diferencia: el tiempo de la respuesta
/// no dice cuántos caracteres acertó quien prueba cookies.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// Las dos líneas de la cookie: el servidor completo las envía, y el
// cliente completo las reconoce y repite su datagrama con la cookie
// delante. El curso no las envía ni las conoce.

/// Largo de una cookie, en caracteres hexadecimales (64 bits): corta, para
/// que la respuesta a un pedido chico quepa en el triple de su tamaño.
pub const COOKIE_CHARS: usize = 16;

/// `true` si `text` tiene la forma de una cookie: 16 caracteres `0-9 a-f`.
pub fn is_cookie(text: &str) -> bool {
    text.len() == COOKIE_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Separa una cookie al principio de un datagrama: `<COOKIE> <resto>` →
/// `(cookie, resto)`. `None` si no empieza con algo de forma de cookie.
pub fn split_cookie(text: &str) -> Option<(&str, &str)> {
    let (first, rest) = text.split_once(' ')?;
    is_cookie(first).then_some((first, rest))
}

/// La frase de la cookie, sin el prefijo de los avisos: la única
/// respuesta a un `:login` o `:register` por UDP desde una dirección que
/// todavía no probó que recibe; el cliente repite su datagrama con la
/// cookie delante (`<COOKIE> :login bob clave`).
const COOKIE_NOTICE: &str = ", resend with it first.";

/// La forma corta empieza igual que la frase: `Cookie <COOKIE>`.
const COOKIE_SHORT: &str = "Cookie ";

/// `[SERVER] Client: Cookie <COOKIE>, resend with it first.` y su `\n`.
pub fn cookie_notice_line(cookie: &str) -> String {
    format!("{SERVER_PREFIX}{COOKIE_SHORT}{cookie}{COOKIE_NOTICE}\n")
}

/// `Cookie <COOKIE>` y su `\n`: 24 bytes, la forma más corta de la cookie,
/// para un datagrama tan chico que la frase entera ([`cookie_notice_line`]) no
/// cabe en el triple de lo que midió (el límite anti-amplificación, RFC 9000
/// §8.1): `:login ana 1234` con `nc -u` mide 16 bytes, y un datagrama de 8
/// bytes o más recibe así siempre respuesta.
pub fn cookie_short_line(cookie: &str) -> String {
    format!("{COOKIE_SHORT}{cookie}\n")
}

/// La cookie de una línea del servidor (sin `\n`), en cualquiera de sus
/// dos formas; `None` si la línea no trae una cookie, o trae algo que no
/// tiene su forma (así nadie la confunde con el mensaje de un usuario).
pub fn cookie_from_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(SERVER_PREFIX).unwrap_or(line);
    let rest = rest.strip_prefix(COOKIE_SHORT)?;
    let cookie = rest.strip_suffix(COOKIE_NOTICE).unwrap_or(rest);
    let whole = line.starts_with(SERVER_PREFIX) == rest.ends_with(COOKIE_NOTICE);
    (whole && is_cookie(cookie)).then_some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("dirección")
    }

    #[test]
    fn a_cookie_is_for_one_address_and_two_windows() {
        let t0 = Instant::now();
        let cookies = Cookies::new([7; 32], t0);
        let alice = addr("127.0.0.1:5000");
        let cookie = cookies.issue(alice, t0);
        assert!(is_cookie(&cookie), "{cookie}");
        assert!(cookies.check(alice, &cookie, t0));
        // Otra dirección (otro puerto también), otra cookie.
        assert!(!cookies.check(addr("127.0.0.1:5001"), &cookie, t0));
        assert!(!cookies.check(addr("127.0.0.2:5000"), &cookie, t0));
        // Vale en la ventana siguiente, no en la otra.
        assert!(cookies.check(alice, &cookie, t0 + WINDOW));
        assert!(!cookies.check(alice, &cookie, t0 + WINDOW * 2));
        // Otra clave (otro arranque del servidor), otra cookie.
        let other = Cookies::new([8; 32], t0);
        assert!(!other.check(alice, &cookie, t0));
        assert!(!cookies.check(alice, "0123456789abcdef", t0));
        assert!(!cookies.check(alice, "", t0));
    }

    #[test]
    fn cookies_are_recognized_at_the_start_of_a_datagram() {
        assert_eq!(
            split_cookie("0123456789abcdef :login bob pw"),
            Some(("0123456789abcdef", ":login bob pw"))
        );
        assert_eq!(split_cookie(":login bob pw"), None);
        // Un token (32 caracteres) no es una cookie.
        assert_eq!(split_cookie("0123456789abcdef0123456789abcdef hola"), None);
        assert_eq!(split_cookie("0123456789ABCDEF hola"), None);
    }

    #[test]
    fn a_cookie_line_reads_back_in_both_forms_and_nothing_else_does() {
        let cookie = "0123456789abcdef";
        let short = cookie_short_line(cookie);
        assert_eq!(short, "Cookie 0123456789abcdef\n");
        assert_eq!(short.len(), 3 * 8, "cabe en el triple de 8 bytes");
        assert_eq!(cookie_from_line(short.trim_end()), Some(cookie));
        let notice = cookie_notice_line(cookie);
        assert_eq!(
            notice,
            "[SERVER] Client: Cookie 0123456789abcdef, resend with it first.\n"
        );
        assert_eq!(cookie_from_line(notice.trim_end()), Some(cookie));
        // Solo con la forma exacta de una cookie: no es el mensaje de nadie.
        for other in [
            "Cookie 0123",
            "Cookie 0123456789abcdeg",
            "bob: Cookie 0123456789abcdef",
            "Cookie 0123456789abcdef, resend with it first.",
            "[SERVER] Client: Cookie 0123456789abcdef",
        ] {
            assert_eq!(cookie_from_line(other), None, "{other:?}");
        }
    }
}
