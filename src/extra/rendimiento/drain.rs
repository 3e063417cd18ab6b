//! Leer de un socket UDP lo que ya llegó, sin esperar: `recvfrom(2)` con
//! `MSG_DONTWAIT`, que `std` no ofrece (su `recv_from` espera, o sigue el
//! modo del socket entero, que comparten los hilos que envían).
//!
//! Con esto el hilo UDP atiende una ráfaga de datagramas de una vez (ver
//! `datagrams`): tras el `recv_from` que espera, lee lo que haya en la cola
//! del kernel, hasta un tope, y después envía todo junto. No sabe nada del
//! chat.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

/// Cuántos datagramas, como mucho, se leen de una vez tras el que se
/// esperó: una ráfaga se atiende en tandas, y entre una y otra el hilo UDP
/// envía lo juntado y revisa sus plazos.
pub const BURST_DATAGRAMS: usize = 64;

/// Un datagrama que ya esté en la cola de `socket`, en `buffer`: sus bytes
/// y su origen, o `None` si no hay ninguno (el kernel respondió
/// `EAGAIN`). Error: cualquier otro de `recvfrom(2)`.
pub fn received_now(
    socket: &UdpSocket,
    buffer: &mut [u8],
) -> io::Result<Option<(usize, SocketAddr)>> {
    // SAFETY: `sockaddr_storage` es un struct de C sin invariantes: todo
    // ceros es un valor válido.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: el descriptor es un socket abierto que `socket` mantiene vivo;
    // `buffer`, `storage` y `len` viven hasta que la llamada vuelve, y las
    // longitudes que se pasan son las suyas.
    let n = unsafe {
        libc::recvfrom(
            socket.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            libc::MSG_DONTWAIT,
            (&raw mut storage).cast(),
            &mut len,
        )
    };
    if n < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(error),
        };
    }
    let from = address(&storage).ok_or_else(|| io::Error::other("unknown address family"))?;
    Ok(Some((n as usize, from)))
}

/// La dirección que dejó `recvfrom(2)` en `storage`: IPv4 o IPv6.
fn address(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: la familia dice que `storage` tiene un `sockaddr_in`,
            // y `sockaddr_storage` es lo bastante grande y alineado para él.
            let v4 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: como arriba, con un `sockaddr_in6`.
            let v6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                port,
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_what_is_waiting_and_never_waits() {
        for any in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(socket) = UdpSocket::bind(any) else {
                continue; // sin IPv6 en esta máquina
            };
            let me = socket.local_addr().expect("addr");
            let sender = UdpSocket::bind(any).expect("bind");
            let mut buffer = [0u8; 64];
            assert!(
                received_now(&socket, &mut buffer)
                    .expect("recvfrom")
                    .is_none()
            );
            sender.send_to(b"hola", me).expect("send_to");
            // El loopback entrega al enviar, pero se espera con tope por si
            // acaso: nunca una ventana estrecha.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let got = loop {
                if let Some(got) = received_now(&socket, &mut buffer).expect("recvfrom") {
                    break got;
                }
                assert!(std::time::Instant::now() < deadline, "no llegó");
                std::thread::yield_now();
            };
            assert_eq!(got, (4, sender.local_addr().expect("addr")));
            assert_eq!(&buffer[..4], b"hola");
        }
    }
}
