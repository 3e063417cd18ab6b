//! Lo que hace rápido al servidor completo, fuera de lo que el curso pide:
//! - [`outbox`]: la cola de salida acotada de cada cliente, con envíos que
//!   nunca esperan (`MSG_DONTWAIT`), por trozos y en tandas.
//! - [`bursts`]: la lectura de un cliente TCP, con un búfer que crece en
//!   las ráfagas y las líneas ya leídas atendidas en tanda.
//! - [`drain`]: leer de un socket UDP muchos datagramas con una llamada
//!   (`recvmmsg`): la ráfaga que el hilo UDP atiende de una vez.
//! - [`commit`]: el *group commit* del libro: un `fdatasync` para muchas
//!   operaciones, con un recibo cada una.
//! - [`flusher`]: el hilo vaciador que termina de escribir las colas
//!   atascadas, y el techo de memoria entre todas.
//! - [`hashers`]: el grupo de hilos que calcula los hashes de Argon2, con
//!   la memoria de cada uno reservada una vez.

pub mod bursts;
pub mod commit;
pub mod drain;
pub mod flusher;
pub mod hashers;
pub mod outbox;
