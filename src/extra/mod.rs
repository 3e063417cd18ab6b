//! Lo que el curso no pide y el programa completo agrega, cada pieza en su
//! archivo:
//! - [`abuse`]: las reglas contra el abuso (líneas por segundo, contraseñas).
//! - [`cookie`]: la cookie que prueba una dirección UDP.
//! - [`keepalive`]: detectar a un cliente TCP cuya red desapareció.
//! - [`send_buffer`]: el tope del búfer de envío del kernel por cliente TCP.
//! - [`stats`]: las estadísticas en vivo (`:stats`), con contadores atómicos.
//! - [`config`]: la línea de comandos del servidor.
//! - [`shutdown`]: el apagado ordenado con SIGINT o SIGTERM.
//! - [`registry`]: las conexiones abiertas y sus topes.
//! - [`cli`]: los errores de la línea de comandos, en castellano.
//! - [`editor`]: la línea de edición del cliente en una terminal.
//! - [`rendimiento`]: las colas de salida rápidas y el hilo vaciador.
//! - [`laboratorio`]: el laboratorio de UDP: pérdida a pedido y entrega
//!   confiable hecha a mano.
//!
//! No es dueño de la lógica del chat: la usa desde [`crate::curso`].

pub mod abuse;
pub mod cli;
pub mod config;
pub mod cookie;
pub mod editor;
pub mod keepalive;
pub mod laboratorio;
pub mod registry;
pub mod rendimiento;
pub mod send_buffer;
pub mod shutdown;
pub mod stats;
