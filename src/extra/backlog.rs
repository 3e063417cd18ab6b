//! El largo de la cola de `accept` del socket que escucha (el `backlog`
//! de `listen(2)`). `TcpListener::bind` de `std` lo deja en 128, y el
//! curso se queda con eso; el programa completo lo agranda para las
//! ráfagas de cientos de conexiones. No sabe nada del chat.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

/// Largo de la cola de conexiones ya establecidas que esperan su `accept`
/// (el `backlog` de `listen(2)`). `std` usa 128; con ráfagas de cientos de
/// conexiones la cola se llena, y el kernel descarta el último ACK del
/// handshake: el cliente cree estar conectado, el servidor nunca lo acepta,
/// y como en este protocolo habla primero el servidor, ambos esperan para
/// siempre (se vio en `cargo bench --bench carga`). Linux lo recorta a
/// `net.core.somaxconn` (4096 por defecto).
pub const LISTEN_BACKLOG: i32 = 1024;

/// Vuelve a llamar a `listen(2)` sobre un socket que ya escucha, con otro
/// `backlog`: en Linux eso solo cambia el largo de la cola. `std` no ofrece
/// esta llamada, así que se pide a la biblioteca de C (la misma función que
/// usa `std` por dentro). Error: el de `listen`.
pub fn set(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    // SAFETY: el descriptor es un socket abierto que `listener` mantiene
    // vivo durante la llamada; `listen` no toma punteros.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_takes_a_longer_queue() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        set(&listener, LISTEN_BACKLOG).expect("listen");
        // Sigue escuchando: una conexión entra.
        let addr = listener.local_addr().expect("addr");
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        listener.accept().expect("accept");
    }
}
