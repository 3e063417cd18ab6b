//! El búfer de recepción del kernel de un socket UDP (`SO_RCVBUF`,
//! `socket(7)`): donde esperan los datagramas que llegaron y nadie leyó
//! todavía.
//!
//! UDP no frena a quien envía: si el búfer se llena, el kernel tira lo que
//! sigue llegando, sin avisar a nadie (se ve en la columna `drops` de
//! `/proc/net/udp`). El de omisión (`net.core.rmem_default`, 208 KiB)
//! guarda unos 270 datagramas de una línea: cada uno cuesta al kernel más
//! de 700 bytes de contabilidad. Medido con `cargo bench --bench udp_lab
//! -- simple`, sin pérdida del laboratorio: de una ráfaga de 500 líneas de
//! alice llegaba a bob entre el 51 y el 68 %, y `/proc/net/udp` mostraba
//! los descartes en el socket del servidor (244 en una corrida) y en el
//! del cliente que recibe (98). Un búfer más grande no le da a UDP control
//! de flujo: una ráfaga más grande se pierde igual. Solo mueve el borde.
//!
//! Linux recorta lo pedido a `net.core.rmem_max` (en muchas distribuciones
//! también 208 KiB: ahí esto no cambia nada; agrandarlo es cosa del
//! administrador) y reserva el doble. No sabe nada del chat.

use crate::extra::send_buffer;
use std::io;
use std::net::UdpSocket;

/// Lo que pide el servidor para su socket UDP, en bytes: uno solo para
/// todos los usuarios UDP, así que es la cola de todos.
pub const SERVER_BYTES: usize = 4 << 20;

/// Lo que pide el cliente para su socket UDP, en bytes: lo que le llega a
/// una sola persona.
pub const CLIENT_BYTES: usize = 1 << 20;

/// Pide al kernel un búfer de recepción de `bytes` para `socket`. Error:
/// el de `setsockopt(2)`.
pub fn enlarge(socket: &UdpSocket, bytes: usize) -> io::Result<()> {
    send_buffer::set(socket, libc::SO_RCVBUF, bytes)
}

/// El búfer de recepción que el kernel reserva para `socket`, en bytes.
/// Error: el de `getsockopt(2)`.
pub fn current(socket: &UdpSocket) -> io::Result<usize> {
    send_buffer::get(socket, libc::SO_RCVBUF)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// El kernel da el doble de lo pedido, con el tope de `rmem_max`.
    #[test]
    fn the_kernel_grants_twice_what_is_asked_up_to_rmem_max() {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .expect("rmem_max")
            .trim()
            .parse()
            .expect("un número");
        enlarge(&socket, CLIENT_BYTES).expect("setsockopt");
        assert_eq!(
            current(&socket).expect("getsockopt"),
            2 * CLIENT_BYTES.min(max)
        );
    }
}
