//! El laboratorio de UDP (informe, sección 3.13):
//! - [`lossy`]: pérdida, duplicación y desorden a pedido.
//! - [`fiable`]: entrega confiable sobre UDP hecha a mano (secuencias,
//!   acuses, RFC 6298).
//! - [`peers`]: los pares del modo confiable en el servidor UDP, por
//!   dirección.
//! - [`reliable`]: el modo confiable del cliente (`--udp --reliable`).

pub mod fiable;
pub mod lossy;
pub mod peers;
pub mod reliable;
