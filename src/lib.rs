//! Chat multicliente con cuentas y un pequeño banco, sobre sockets TCP y UDP
//! de `std::net` y un hilo por cliente TCP: la implementación modelo del proyecto de
//! sockets del curso (ver `informe/` y `README.md`).
//!
//! Cada módulo se ocupa de una cosa:
//! - [`protocolo`]: las líneas del protocolo, como código puro (sin E/S).
//! - [`framing`]: cortar un flujo de bytes en líneas acotadas.
//! - [`password`]: hash de contraseñas con Argon2id.
//! - [`storage`]: el diario `diario.jsonl` y la foto `usuarios.json`.
//! - [`ledger`]: cuentas y saldos tras un `Mutex`; las reglas del dinero.
//! - [`outbox`]: la cola de salida acotada de cada cliente.
//! - [`flusher`]: el hilo que termina de escribir las colas atascadas, y su techo.
//! - [`room`]: quién está conectado y cómo llegarle.
//! - [`session`]: qué hace el servidor con cada línea de un cliente: la
//!   máquina de etapas (`Stage`, `Chat::signed_line`), la misma para TCP y
//!   UDP, y la regla de que nada se confirma antes de estar en disco
//!   (`Replies`).
//! - [`console`]: la consola del servidor, con su propio hilo escritor.
//! - [`stats`]: las estadísticas en vivo (`:stats`), con contadores atómicos.
//! - [`servidor`]: el socket que escucha, un hilo por cliente y sus límites;
//!   su línea de comandos y el apagado ordenado con SIGINT o SIGTERM.
//! - [`abuse`]: las reglas contra el abuso (líneas por segundo, contraseñas).
//! - [`keepalive`]: detectar a un cliente TCP cuya red desapareció.
//! - [`send_buffer`]: el tope del búfer de envío del kernel por cliente TCP.
//! - [`cookie`]: la cookie que prueba una dirección UDP.
//! - [`udp`]: el lado UDP del chat, un hilo para todos, con tokens.
//! - [`lossy`]: el laboratorio de UDP: pérdida, duplicación y desorden a pedido.
//! - [`fiable`]: entrega confiable sobre UDP hecha a mano (secuencias, acuses, RFC 6298).
//! - [`peers`]: los pares del modo confiable en el servidor UDP, por dirección.
//! - [`echo`]: el servidor de eco del enunciado 002.
//! - [`sync`]: tomar un candado aunque otro hilo haya entrado en pánico.
//! - [`cliente`]: el cliente de terminal: un núcleo y un archivo por modo.
//! - [`cli`]: los errores de la línea de comandos, en castellano.

// Solo Unix, y se prueba en Linux: el flusher espera con `poll(2)` y un
// `UnixStream`, el diario usa `fdatasync`, el apagado `signal(2)`, la
// terminal `termios`. Unas funciones "de repuesto" para otros sistemas
// solo fingirían que compila: mejor decirlo al compilar.
#[cfg(not(unix))]
compile_error!("chat usa llamadas de Unix (poll, fdatasync, signal, termios): compílelo en Linux");

pub mod abuse;
pub mod cli;
pub mod cliente;
pub mod console;
pub mod cookie;
pub mod echo;
pub mod fiable;
pub mod flusher;
pub mod framing;
pub mod keepalive;
pub mod ledger;
pub mod lossy;
pub mod outbox;
pub mod password;
pub mod peers;
pub mod protocolo;
pub mod room;
pub mod send_buffer;
pub mod servidor;
pub mod session;
pub mod stats;
pub mod storage;
pub mod sync;
pub mod udp;
