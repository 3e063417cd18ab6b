//! La solución modelo del curso, en el orden en que se lee (el capítulo 3
//! del informe la sigue):
//! - [`protocolo`]: las líneas del protocolo, como código puro (sin E/S).
//! - [`framing`]: cortar un flujo de bytes en líneas acotadas.
//! - [`password`]: hash de contraseñas con Argon2id.
//! - [`storage`]: el diario `diario.jsonl` y la foto `usuarios.json`.
//! - [`ledger`]: cuentas y saldos tras un `Mutex`; las reglas del dinero.
//! - [`room`]: quién está conectado y cómo llegarle.
//! - [`session`]: qué hace el servidor con cada línea de un cliente: la
//!   máquina de etapas (`Stage`, `Chat::signed_line`), la misma para TCP y
//!   UDP, y la regla de que nada se confirma antes de estar en disco
//!   (`Replies`).
//! - [`output`]: la salida de cada cliente: un canal acotado y un hilo
//!   escritor.
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
//! ## Los candados, en una lista
//!
//! Cada `Mutex` del servidor protege una sola cosa, se toma lo que dura una
//! operación corta y nunca mientras se espera a un cliente:
//! - `ledger::Ledger::accounts`: las cuentas y los saldos. Se toma para
//!   comprobar y aplicar cada operación del dinero en un solo paso. Sin
//!   él, dos `:t` de la misma cuenta podrían leer el mismo saldo antes de
//!   que ninguna lo descuente (una *actualización perdida*: el dinero se
//!   crea; `examples/carrera.rs` lo muestra).
//! - `room::Room::inner`: quién está en la sala y cómo llegarle. Se toma
//!   para reservar una cuenta, unirse, salir y elegir a quién entregar un
//!   mensaje. Sin él, dos entradas con la misma cuenta podrían ver las dos
//!   que está libre.
//! - la cola de cada cliente (`output::Channel::queue`): se toma lo que
//!   dura un `try_send`, que no espera. Nunca se escribe a un socket con un
//!   candado tomado: eso lo hace el hilo escritor de cada cliente, solo.
//!
//! El orden, donde se toman dos: el de las cuentas antes que el de los
//! archivos (`ledger::SyncEach::store`), y el de la sala antes que la cola
//! de un cliente (`room::Room::join` confirma y avisa con el de la sala
//! tomado). Nunca al revés: ninguna cola ni ningún archivo toma el de la
//! sala o el de las cuentas, así que dos hilos no pueden quedar esperando
//! cada uno el candado del otro (un *deadlock*).
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
