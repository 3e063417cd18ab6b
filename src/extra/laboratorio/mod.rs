//! El laboratorio de UDP (informe, anexo 8.3):
//! - [`lossy`]: pérdida, duplicación y desorden a pedido.
//! - [`reliable`]: entrega confiable sobre UDP hecha a mano (secuencias,
//!   acuses, la recuperación de RFC 9002), pura y sin sockets.
//! - [`alarm`]: el despertador de los hilos que revisan sus plazos.
//! - [`peers`]: los pares del modo confiable en el servidor UDP, por
//!   dirección.
//! - [`reliable_client`]: el modo confiable del cliente (`--udp --reliable`).

pub mod alarm;
pub mod lossy;
pub mod peers;
pub mod reliable;
pub mod reliable_client;
