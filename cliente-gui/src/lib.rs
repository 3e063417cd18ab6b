//! `cliente-gui`: el cliente gráfico del enunciado 001 (punto 3), una
//! interfaz más sobre el núcleo del cliente de terminal (`chat::cliente`):
//! ni el protocolo, ni el inicio de sesión, ni el token UDP se escriben de
//! nuevo aquí.
//!
//! - `model`: qué muestra la ventana y qué envía, como datos puros;
//! - `net`: el núcleo en sus hilos, unido a la ventana por canales;
//! - `app`: la ventana egui que dibuja el modelo.

pub mod app;
pub mod model;
pub mod net;
