//! Chat multicliente con cuentas y un pequeño banco, sobre sockets TCP y UDP
//! de `std::net` y un hilo por cliente TCP: la implementación modelo del proyecto de
//! sockets del curso (ver `informe/` y `README.md`).
//!
//! Dos carpetas, dos lectores:
//! - [`curso`]: la solución modelo del curso, lo que un estudiante lee en
//!   una tarde: el protocolo, las cuentas, la sala, el hilo de cada
//!   cliente, el bucle de `recv_from`, el diario en disco, el eco y el
//!   cliente de terminal.
//! - `extra` (con la característica `extra`, la de siempre): lo que el
//!   curso no pide y el programa completo agrega: los límites contra el
//!   abuso, la cookie de UDP, las estadísticas, la línea de comandos, el
//!   apagado ordenado, las colas de salida rápidas (`extra::rendimiento`)
//!   y el laboratorio de UDP (`extra::laboratorio`).
//!
//! `curso/` no nombra a `extra/`: lo que el programa completo agrega entra
//! por los puntos de enchufe de `curso` (`tests/informe.rs` lo comprueba).
//!
//! Los módulos que las pruebas, los benchmarks, los ejemplos y el cliente
//! gráfico nombran se reexportan aquí con su nombre corto
//! (`chat::protocolo`, `chat::servidor`...).

// El programa completo es solo para Unix, y se prueba en Linux: el
// vaciador espera con `poll(2)` y un `UnixStream`, el apagado usa
// `signal(2)`, la terminal `termios`. Unas funciones "de repuesto" para
// otros sistemas solo fingirían que compila: mejor decirlo al compilar. La
// versión del curso (`--no-default-features`) usa solo la parte portátil
// de `std` y compila donde compile Rust.
#[cfg(all(feature = "extra", not(unix)))]
compile_error!(
    "el programa completo usa llamadas de Unix (poll, signal, termios): compílelo en Linux \
     (o WSL), o compile la versión del curso con --no-default-features"
);

pub mod curso;
#[cfg(feature = "extra")]
pub mod extra;

pub use curso::{ledger, password, protocolo, servidor};
// `chat::cliente` es el cliente que corre `cliente`: el del curso en la
// versión del curso, el completo (el del curso más la cookie, la
// recuperación de pérdidas y el laboratorio) en el programa completo.
#[cfg(not(feature = "extra"))]
pub use curso::cliente;
#[cfg(feature = "extra")]
pub use extra::{cli, cliente, send_buffer};
