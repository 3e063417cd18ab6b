//! Detectar a un cliente TCP cuya red desapareció: *keepalive*
//! de TCP (RFC 1122 §4.2.3.6) y `TCP_USER_TIMEOUT` (RFC 5482).
//!
//! Si la red de un cliente desaparece (se corta el Wi-Fi, se apaga la
//! máquina sin cerrar nada), no llega ningún FIN ni RST: el `read` de su
//! hilo espera para siempre y el usuario queda "conectado" para siempre.
//! Con *keepalive*, tras `idle` segundos sin tráfico el kernel envía una
//! sonda; si ninguna de [`PROBES`] sondas, una cada `idle / 6`, recibe
//! respuesta, el `read` falla con `ETIMEDOUT` y la sesión se cierra con el
//! aviso de siempre. Si en cambio había datos sin confirmar (el servidor le
//! estaba escribiendo), las sondas no corren y manda `TCP_USER_TIMEOUT`: la
//! conexión se da por muerta tras el mismo total sin confirmación.
//!
//! `std` no ofrece estas opciones, así que se pide `setsockopt(2)` a la
//! biblioteca de C (la misma que usa `std` por dentro). Los números de las
//! opciones son los de Linux; en otros sistemas no se hace nada. No sabe
//! nada del chat.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

/// Tiempo sin tráfico, por defecto, tras el que se empieza a sondear
/// (`--keepalive-secs`): con seis sondas cada 10 s, un cliente desaparecido
/// se anuncia como desconectado a los 2 minutos.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// Sondas sin respuesta tras las que la conexión se da por muerta.
pub const PROBES: u32 = 6;

/// Cuánto tarda, como mucho, en darse por muerto un cliente que desapareció
/// con estos parámetros: la espera más todas las sondas (para `idle` = 60 s,
/// 120 s).
pub fn detection_time(idle: Duration) -> Duration {
    idle + interval(idle) * PROBES
}

/// Una sonda cada `idle / 6`, y al menos cada segundo.
fn interval(idle: Duration) -> Duration {
    (idle / PROBES).max(Duration::from_secs(1))
}

/// Activa en `stream` el *keepalive* con espera `idle` y el
/// `TCP_USER_TIMEOUT` de [`detection_time`]. Error: el de `setsockopt`.
#[cfg(target_os = "linux")]
pub fn enable(stream: &TcpStream, idle: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    const SOL_SOCKET: i32 = 1;
    const SO_KEEPALIVE: i32 = 9;
    const IPPROTO_TCP: i32 = 6;
    const TCP_KEEPIDLE: i32 = 4;
    const TCP_KEEPINTVL: i32 = 5;
    const TCP_KEEPCNT: i32 = 6;
    const TCP_USER_TIMEOUT: i32 = 18;
    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const i32, len: u32) -> i32;
    }
    let secs = |d: Duration| i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX);
    let millis = i32::try_from(detection_time(idle).as_millis()).unwrap_or(i32::MAX);
    let options = [
        (SOL_SOCKET, SO_KEEPALIVE, 1),
        (IPPROTO_TCP, TCP_KEEPIDLE, secs(idle)),
        (IPPROTO_TCP, TCP_KEEPINTVL, secs(interval(idle))),
        (IPPROTO_TCP, TCP_KEEPCNT, PROBES as i32),
        (IPPROTO_TCP, TCP_USER_TIMEOUT, millis),
    ];
    for (level, name, value) in options {
        // SAFETY: el descriptor es un socket abierto que `stream` mantiene
        // vivo durante la llamada; `value` apunta a un `i32` que vive hasta
        // que la llamada vuelve, y `len` es su tamaño.
        let done = unsafe {
            setsockopt(
                stream.as_raw_fd(),
                level,
                name,
                &value,
                size_of::<i32>() as u32,
            )
        };
        if done != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// En otros sistemas no se activa nada.
#[cfg(not(target_os = "linux"))]
pub fn enable(_: &TcpStream, _: Duration) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vanished_client_is_detected_in_two_minutes_by_default() {
        assert_eq!(detection_time(DEFAULT_IDLE), Duration::from_secs(120));
        assert_eq!(
            detection_time(Duration::from_secs(6)),
            Duration::from_secs(12)
        );
        // Nunca una sonda por debajo del segundo.
        assert_eq!(
            detection_time(Duration::from_secs(1)),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn the_options_are_accepted_by_a_real_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let stream = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        enable(&stream, DEFAULT_IDLE).expect("setsockopt");
    }
}
