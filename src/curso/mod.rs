//! La solución modelo del curso, en el orden en que se lee (el capítulo 3
//! del informe la sigue):
//! - [`protocolo`]: las líneas del protocolo, como código puro (sin E/S).
//! - [`framing`]: cortar un flujo de bytes en líneas acotadas.
//! - [`password`]: hash de contraseñas con Argon2id.
//! - [`storage`]: el diario `diario.jsonl` y la foto `usuarios.json`.
//! - [`ledger`]: cuentas y saldos tras un `Mutex`; las reglas del dinero.
//! - [`room`]: quién está conectado y cómo llegarle.
//! - [`output`]: la salida de cada cliente: un canal acotado y un hilo
//!   escritor.
//! - [`session`]: qué hace el servidor con cada línea de un cliente: la
//!   máquina de etapas (`Stage`, `Chat::signed_line`), la misma para TCP y
//!   UDP, y la regla de que nada se confirma antes de estar en disco
//!   (`Replies`).
//! - [`servidor`]: el socket que escucha, el bucle de `accept` y un hilo
//!   por cliente.
//! - [`udp`]: el lado UDP del chat, un hilo para todos, con tokens.
//! - [`echo`]: el servidor de eco del enunciado 002.
//! - [`console`]: la consola del servidor, con su propio hilo escritor.
//! - [`sync`]: tomar un candado aunque otro hilo haya entrado en pánico.
//! - [`seams`]: los puntos de enchufe que el programa completo llena.
//! - [`cliente`]: el cliente de terminal: un núcleo y un archivo por modo.
//! - [`args`]: la línea de comandos de la versión del curso.
//!
//! No nombra nada del programa completo: lo que este agrega entra por los
//! puntos de enchufe (`seams`, y los del cliente en `cliente::seams`), y
//! `tests/informe.rs` comprueba que ningún archivo de aquí lo nombre.
//!
//! Solo usa la parte portátil de `std`: nada de `unsafe` (el compilador lo
//! rechaza aquí) ni de llamadas de un sistema en particular. Las que el
//! programa completo necesita (`poll`, `signal`, `termios`, opciones de
//! socket que `std` no tiene) están fuera, detrás de los enchufes.

#![forbid(unsafe_code)]

pub mod args;
pub mod cliente;
pub mod console;
pub mod echo;
pub mod framing;
pub mod ledger;
pub mod output;
pub mod password;
pub mod protocolo;
pub mod room;
pub mod seams;
pub mod servidor;
pub mod session;
pub mod storage;
pub mod sync;
pub mod udp;
