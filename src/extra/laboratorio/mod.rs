//! El laboratorio de UDP (informe, anexo 8.3):
//! - [`lossy`]: pérdida, duplicación y desorden a pedido.
//! - [`reliable`]: entrega confiable sobre UDP hecha a mano (secuencias,
//!   acuses, RFC 6298), pura y sin sockets.
//! - [`peers`]: los pares del modo confiable en el servidor UDP, por
//!   dirección.
//! - [`reliable_client`]: el modo confiable del cliente (`--udp --reliable`).

pub mod lossy;
pub mod peers;
pub mod reliable;
pub mod reliable_client;
