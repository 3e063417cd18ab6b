//! Leer de un socket UDP muchos datagramas con una sola llamada al
//! sistema: `recvmmsg(2)`, que `std` no ofrece (su `recv_from` trae uno).
//!
//! Con esto el hilo UDP atiende una ráfaga de una vez (ver `datagrams`):
//! espera el primer datagrama y, en la misma llamada, trae los que ya
//! estén en la cola del kernel, hasta un tope; después envía todo junto.
//! Un `recvfrom` por datagrama se llevaba casi la mitad del tiempo del
//! hilo UDP en una ráfaga (según `perf`), y más de un tercio de eso era el
//! costo fijo de cada llamada (entrar al kernel, buscar el socket,
//! volver), que así se reparte entre hasta [`SLOTS`] datagramas: con
//! 5000 líneas de alice a bob, el hilo UDP gastó de 5 a 12 % menos CPU. No
//! sabe nada del chat.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::ptr;

/// Cuántos datagramas, como mucho, forman una tanda: una ráfaga se atiende
/// en tandas, y entre una y otra el hilo UDP envía lo juntado y revisa sus
/// plazos.
pub const BURST_DATAGRAMS: usize = 64;

/// Cuántos datagramas trae cada `recvmmsg(2)`: una tanda son hasta
/// `BURST_DATAGRAMS / SLOTS` llamadas. Cada lugar reserva el máximo de un
/// datagrama ([`SLOT_BYTES`]), así que más lugares son más memoria para
/// casi nada: con 16, el costo fijo de la llamada ya se reparte entre 16.
pub const SLOTS: usize = 16;

/// Bytes de cada lugar: el máximo de un datagrama UDP (65.507 de datos en
/// IPv4, 65.527 en IPv6), para que ninguno se trunque: uno de más de 4096
/// bytes se ve entero, y se rechaza por largo, como con `recv_from`. Los
/// 16 lugares son 1 MiB de memoria virtual; el kernel solo le da páginas
/// de verdad a la parte que los datagramas llegan a tocar.
pub const SLOT_BYTES: usize = 65_536;

/// Los lugares donde `recvmmsg(2)` deja los datagramas, y qué dejó la
/// última vez.
pub struct Slots {
    bytes: Vec<u8>,
    sources: Vec<libc::sockaddr_storage>,
    received: Vec<Received>,
}

/// Un datagrama que dejó la última llamada: en qué lugar, cuántos bytes y
/// de dónde.
struct Received {
    slot: usize,
    len: usize,
    from: SocketAddr,
}

impl Default for Slots {
    fn default() -> Slots {
        Slots::new()
    }
}

impl Slots {
    /// [`SLOTS`] lugares de [`SLOT_BYTES`] bytes, vacíos.
    pub fn new() -> Slots {
        Slots {
            bytes: vec![0; SLOTS * SLOT_BYTES],
            // SAFETY: `sockaddr_storage` es un struct de C sin
            // invariantes: todo ceros es un valor válido.
            sources: vec![unsafe { zeroed() }; SLOTS],
            received: Vec::with_capacity(SLOTS),
        }
    }

    /// Trae hasta [`SLOTS`] datagramas con una llamada. Con `wait`, espera
    /// el primero (a lo sumo el plazo de lectura del socket,
    /// `set_read_timeout`) y trae con él los que ya estén en la cola
    /// (`MSG_WAITFORONE`); sin `wait`, solo los que ya estén
    /// (`MSG_DONTWAIT`). Devuelve cuántos trajo: se leen con
    /// [`Slots::get`]. Sin ninguno, `Ok(0)` sin `wait` y el error del plazo
    /// (`WouldBlock` o `TimedOut`) con él. Error: el de `recvmmsg(2)`.
    pub fn receive(&mut self, socket: &UdpSocket, wait: bool) -> io::Result<usize> {
        // SAFETY: `iovec` y `mmsghdr` son structs de C sin invariantes:
        // todo ceros es un valor válido (punteros nulos, largos 0).
        let mut iovecs: [libc::iovec; SLOTS] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; SLOTS] = unsafe { zeroed() };
        let slots = self.bytes.chunks_exact_mut(SLOT_BYTES);
        let lanes = iovecs.iter_mut().zip(headers.iter_mut());
        for ((slot, source), (iovec, header)) in slots.zip(self.sources.iter_mut()).zip(lanes) {
            iovec.iov_base = slot.as_mut_ptr().cast();
            iovec.iov_len = slot.len();
            header.msg_hdr.msg_name = ptr::from_mut(source).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = ptr::from_mut(iovec);
            header.msg_hdr.msg_iovlen = 1;
        }
        let flags = if wait {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        // SAFETY: el descriptor es un socket abierto que `socket` mantiene
        // vivo; cada `mmsghdr` apunta a su `iovec`, a su lugar de
        // `self.bytes` y a su `sockaddr_storage`, que viven hasta que la
        // llamada vuelve, con sus largos; son `SLOTS` de cada uno.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                SLOTS as libc::c_uint,
                flags,
                ptr::null_mut(),
            )
        };
        self.received.clear();
        if n < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock if !wait => Ok(0),
                _ => Err(error),
            };
        }
        let filled = headers.iter().zip(&self.sources).take(n as usize);
        for (slot, (header, source)) in filled.enumerate() {
            // Otra familia que IPv4 o IPv6 no llega a un socket UDP de IP;
            // si llegara, se salta.
            if let Some(from) = address(source) {
                let len = header.msg_len as usize;
                self.received.push(Received { slot, len, from });
            }
        }
        Ok(self.received.len())
    }

    /// El datagrama `index` de los que trajo la última [`Slots::receive`]:
    /// sus bytes y su origen. `None` si trajo menos.
    pub fn get(&self, index: usize) -> Option<(&[u8], SocketAddr)> {
        let got = self.received.get(index)?;
        let start = got.slot * SLOT_BYTES;
        Some((&self.bytes[start..start + got.len], got.from))
    }
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
    use std::time::{Duration, Instant};

    /// Lo que trae `slots` sin esperar hasta tener `count` datagramas (el
    /// loopback entrega al enviar, pero se espera con tope por si acaso:
    /// nunca una ventana estrecha), con cuántas llamadas hicieron falta.
    fn collect(slots: &mut Slots, socket: &UdpSocket, count: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < count {
            assert!(
                Instant::now() < deadline,
                "llegaron {} de {count}",
                got.len()
            );
            let n = slots.receive(socket, false).expect("recvmmsg");
            assert!(n <= SLOTS);
            got.extend(
                (0..n)
                    .filter_map(|i| slots.get(i))
                    .map(|(b, f)| (b.to_vec(), f)),
            );
            assert!(slots.get(n).is_none());
        }
        got
    }

    #[test]
    fn it_brings_what_is_waiting_whole_and_in_order_and_never_waits() {
        for any in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(socket) = UdpSocket::bind(any) else {
                continue; // sin IPv6 en esta máquina
            };
            let me = socket.local_addr().expect("addr");
            let mut slots = Slots::new();
            assert_eq!(slots.receive(&socket, false).expect("recvmmsg"), 0);
            let (one, two) = (
                UdpSocket::bind(any).expect("bind"),
                UdpSocket::bind(any).expect("bind"),
            );
            // El más grande que cabe en un datagrama IPv4, y uno vacío.
            let huge = vec![b'x'; 65_507];
            one.send_to(b"hola", me).expect("send_to");
            two.send_to(&huge, me).expect("send_to");
            one.send_to(b"", me).expect("send_to");
            let got = collect(&mut slots, &socket, 3);
            let one = one.local_addr().expect("addr");
            let two = two.local_addr().expect("addr");
            assert_eq!(
                got,
                [(b"hola".to_vec(), one), (huge, two), (Vec::new(), one)]
            );
        }
    }

    #[test]
    fn more_than_the_slots_take_more_calls_and_nothing_is_lost() {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let me = socket.local_addr().expect("addr");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let count = SLOTS * 2 + 3;
        for i in 0..count {
            sender
                .send_to(format!("{i}").as_bytes(), me)
                .expect("send_to");
        }
        let mut slots = Slots::new();
        let got = collect(&mut slots, &socket, count);
        let texts: Vec<String> = got
            .iter()
            .map(|(b, _)| String::from_utf8_lossy(b).into())
            .collect();
        let sent: Vec<String> = (0..count).map(|i| i.to_string()).collect();
        assert_eq!(texts, sent);
    }

    #[test]
    fn waiting_returns_the_first_as_it_arrives_or_the_timeout() {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let me = socket.local_addr().expect("addr");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut slots = Slots::new();
        let error = slots.receive(&socket, true).expect_err("nada llegó");
        assert!(matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let later = std::thread::spawn(move || sender.send_to(b"ya", me));
        assert_eq!(slots.receive(&socket, true).expect("recvmmsg"), 1);
        assert_eq!(slots.get(0).map(|(b, _)| b), Some(&b"ya"[..]));
        later.join().expect("hilo").expect("send_to");
    }
}
