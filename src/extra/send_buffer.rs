//! El búfer de envío que el kernel guarda para cada cliente TCP
//! (`SO_SNDBUF`, `socket(7)`), con un tope.
//!
//! Lo que el servidor escribe en un socket queda en la memoria del kernel
//! hasta que el otro lado lo confirma. Por omisión Linux agranda ese búfer
//! solo, hasta `net.ipv4.tcp_wmem` (4 MiB): un cliente que no lee nunca se
//! queda con 4 MiB del kernel, fuera de las colas que el servidor cuenta
//! (`--max-queue-bytes`, `--max-total-queue-bytes`) y fuera de su RSS.
//! Medido con `cargo bench --bench abuso -- --only nonreaders`: 300
//! clientes que no leen y 5 emisores llevaban la memoria TCP del kernel
//! (`/proc/net/sockstat`, `TCP: mem`) a más de 1 GiB. Con un tope por
//! socket, lo que un cliente atascado retiene es el tope más su cola.
//!
//! Fijar `SO_SNDBUF` apaga el ajuste automático para ese socket, y Linux
//! reserva el doble de lo pedido (la mitad para su contabilidad). No sabe
//! nada del chat: recibe un socket y un número. Las dos llamadas al
//! sistema de un búfer (`set` y `get`) las usa también el búfer de
//! recepción de UDP (`receive_buffer`).

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// Tope por omisión (`--send-buffer-bytes`), en bytes pedidos al kernel
/// (que reserva el doble): de sobra para una ráfaga de líneas de chat, y
/// sin pérdida medible en el benchmark de reparto (`cargo bench --bench
/// carga -- --only i,ii,iii`).
pub const DEFAULT_BYTES: usize = 64 * 1024;

/// Pide al kernel un búfer de envío de `bytes` para `stream` (`0`: no
/// toca nada y queda el ajuste automático). Error: el de `setsockopt(2)`.
pub fn limit(stream: &TcpStream, bytes: usize) -> io::Result<()> {
    if bytes == 0 {
        return Ok(());
    }
    set(stream, libc::SO_SNDBUF, bytes)
}

/// El búfer de envío que el kernel reserva para `stream`, en bytes
/// (`getsockopt(SO_SNDBUF)`). Error: el de `getsockopt(2)`.
pub fn current(stream: &TcpStream) -> io::Result<usize> {
    get(stream, libc::SO_SNDBUF)
}

/// Pide `bytes` para el búfer `option` (`SO_SNDBUF`, `SO_RCVBUF`) del
/// socket `socket` (`setsockopt(2)`, nivel `SOL_SOCKET`). Error: el de la
/// llamada.
pub(crate) fn set(socket: &impl AsRawFd, option: libc::c_int, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: el descriptor es un socket abierto que `socket` mantiene vivo
    // durante la llamada; `value` vive hasta que la llamada vuelve y la
    // longitud es su tamaño.
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// El tamaño del búfer `option` de `socket` que reserva el kernel, en
/// bytes (`getsockopt(2)`). Error: el de la llamada.
pub(crate) fn get(socket: &impl AsRawFd, option: libc::c_int) -> io::Result<usize> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: como en `set`; `value` y `len` son del tamaño declarado y
    // viven hasta que la llamada vuelve.
    let done = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if done == 0 {
        Ok(usize::try_from(value).unwrap_or(0))
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (client, server)
    }

    #[test]
    fn the_kernel_keeps_twice_the_limit_and_zero_leaves_it_alone() {
        let (_client, server) = pair();
        let before = current(&server).expect("getsockopt");
        limit(&server, 0).expect("setsockopt");
        assert_eq!(current(&server).expect("getsockopt"), before);
        limit(&server, DEFAULT_BYTES).expect("setsockopt");
        assert_eq!(current(&server).expect("getsockopt"), 2 * DEFAULT_BYTES);
    }
}
