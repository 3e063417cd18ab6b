//! Lo que el núcleo del cliente le muestra al usuario, como datos: una
//! línea del servidor con su evento, la línea propia, quién es este
//! cliente, por dónde viajan las líneas. Cada interfaz decide cómo se ve:
//! la terminal escribe el texto de [`Shown::text`]; el cliente gráfico
//! (`cliente-gui`) pone la lista de usuarios, el saldo y los
//! puertos en su lugar de la ventana. No sabe nada de sockets.

use crate::curso::protocolo::Event;
use crate::curso::sync::lock;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;

/// Una cosa que mostrar. Lleva sus datos (no referencias) para poder
/// viajar por un canal hasta el hilo de la ventana.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Una línea del servidor, tal como llegó, y su evento si se reconoce.
    /// El token de la sesión nunca llega aquí: es un secreto.
    Server {
        /// La línea, sin el fin de línea.
        line: String,
        /// Lo que dice, si es una línea conocida del protocolo.
        event: Option<Event>,
    },
    /// Un mensaje propio ya en la sala, como lo muestra el enunciado 004
    /// (punto 3): `Me: hola`, o `Me → bob: hola` si es privado. El texto
    /// ya viene normalizado como lo verán los demás. Los comandos (`:u`,
    /// `:t`...) no se muestran: lo que importa es su respuesta.
    Own {
        /// El destinatario de un mensaje privado; `None` si es público.
        to: Option<String>,
        /// El texto, con los emojis ya puestos.
        text: String,
    },
    /// Tras `Welcome`: quién es este cliente y dónde (el enunciado 001
    /// distingue a cada cliente por su IP, su nombre y sus puertos).
    Identity {
        /// El nombre con que se inició sesión.
        name: String,
        /// La dirección local del socket TCP (IP y puerto de este cliente).
        me: SocketAddr,
        /// La dirección del servidor.
        server: SocketAddr,
    },
    /// El lado UDP de una sesión TCP quedó listo.
    UdpReady {
        /// Puerto local de la conexión TCP.
        tcp_port: u16,
        /// Puerto local del socket UDP.
        udp_port: u16,
    },
    /// El modo `--udp` empezó.
    UdpOnly {
        /// Puerto local del socket UDP.
        port: u16,
        /// La dirección del servidor.
        server: SocketAddr,
    },
    /// Las líneas siguientes viajan por UDP (`true`) o por TCP (`false`):
    /// la respuesta a `:udp` y `:tcp`.
    Travel(bool),
    /// `:udp` antes de tener el token de la sesión.
    UdpNotReady,
    /// No se pudo abrir el socket UDP; el texto es el error del sistema.
    UdpUnavailable(String),
    /// Tras la ayuda del servidor: los comandos del propio cliente (modo
    /// TCP), que no viajan al servidor.
    ClientHelp,
    /// Modo TCP: el servidor no respondió por UDP (el `:ping` que presenta
    /// la dirección, o el del vaciado antes de `:q`): lo enviado por UDP
    /// puede no llegar. Pasa, por ejemplo, si el servidor escucha en
    /// `0.0.0.0` y responde desde otra dirección que la que usó el cliente.
    UdpSilent,
    /// Una línea propia del cliente del programa completo (la línea que
    /// repite, lo que su laboratorio perdió, un servidor que no responde):
    /// el curso no la usa. Quien la arma escribe su texto.
    Note {
        /// El texto, tal como lo muestra la terminal.
        text: String,
        /// `true` si avisa de un problema (la terminal lo pinta de rojo).
        warning: bool,
    },
}

/// `line`, que vino de la red, con cada carácter de control a la vista en
/// vez de actuar: `^[` para ESC, `^G` para BEL (la notación de `cat -v`),
/// `^?` para DEL y `\u{9b}` para los de C1. Un servidor (o algo que se
/// hace pasar por él) no puede así cambiar el título de la ventana
/// (`ESC ]0;`), escribir en el portapapeles (`ESC ]52;`), borrar la
/// pantalla (`ESC [2J`) ni pedirle a la terminal una respuesta que ella
/// escribiría en la entrada del cliente (`ESC [6n`, ECMA-48 §8.3.14). El
/// tabulador queda. El servidor de este proyecto ya no deja pasar
/// controles en lo que escriben los usuarios; esto protege de uno ajeno.
pub fn visible(line: &str) -> String {
    let mut shown = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\t' => shown.push(c),
            '\u{0}'..='\u{1f}' => {
                shown.push('^');
                // Los de C0 con su letra: 0x1b + 0x40 es `[`.
                shown.push(char::from(c as u8 + 0x40));
            }
            '\u{7f}' => shown.push_str("^?"),
            '\u{80}'..='\u{9f}' => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            _ => shown.push(c),
        }
    }
    shown
}

impl Shown {
    /// El texto de la línea, tal como la muestra la terminal.
    pub fn text(&self) -> String {
        match self {
            Shown::Server { line, .. } => visible(line),
            Shown::Own { to: None, text } => format!("Me: {text}"),
            Shown::Own { to: Some(to), text } => format!("Me → {to}: {text}"),
            Shown::Identity { name, me, server } => {
                format!("You are {name}, from {me}, connected to the server at {server}.")
            }
            Shown::UdpReady { tcp_port, udp_port } => format!(
                "Your TCP port is {tcp_port}, your UDP port is {udp_port}. Type :udp or :tcp to choose how your lines travel."
            ),
            Shown::UdpOnly { port, server } => format!(
                "UDP client on port {port}, server {server}. Sign in with :login <name> <password> or :register <name> <password>."
            ),
            Shown::Travel(true) => "Your lines now travel by UDP.".to_string(),
            Shown::Travel(false) => "Your lines now travel by TCP.".to_string(),
            Shown::UdpNotReady => "UDP is not ready yet: sign in first.".to_string(),
            Shown::UdpUnavailable(error) => format!("UDP is not available: {error}"),
            Shown::ClientHelp => {
                "Client commands: :udp (your next lines travel by UDP), :tcp (they travel by TCP)."
                    .to_string()
            }
            Shown::UdpSilent => {
                "The server has not answered by UDP: lines sent by UDP may be lost.".to_string()
            }
            Shown::Note { text, .. } => text.clone(),
        }
    }
}

/// Dónde muestra el núcleo lo que pasa. La llaman varios hilos a la vez
/// (el que recibe por TCP, el que recibe por UDP, el que envía): cada
/// llamada es una cosa entera, y la pantalla no debe bloquear mucho, porque
/// mientras tanto ese hilo no lee del socket.
pub trait Screen: Send + Sync {
    /// Muestra `shown`.
    fn show(&self, shown: Shown);
}

/// Una pantalla de texto: una línea por cosa, en cualquier `Write` (la
/// salida estándar, o un `Vec` en las pruebas). El candado mantiene
/// enteras las líneas que escriben hilos distintos.
pub struct Lines<W>(Mutex<W>);

impl<W: Write + Send> Lines<W> {
    /// Una pantalla que escribe en `output`.
    pub fn new(output: W) -> Lines<W> {
        Lines(Mutex::new(output))
    }
}

impl<W: Write + Send> Screen for Lines<W> {
    fn show(&self, shown: Shown) {
        // Un hilo que entró en pánico escribiendo no deja mudos a los demás.
        let mut out = lock(&self.0);
        // Si la salida se cerró (una tubería sin lector) no hay a quién
        // avisar: se sigue, y la sesión termina por su cuenta.
        let _ = writeln!(out, "{}", shown.text());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_the_network_are_shown_not_obeyed() {
        assert_eq!(visible("\u{1b}]0;pwned\u{7}hola"), "^[]0;pwned^Ghola");
        assert_eq!(visible("a\u{1b}[2J\u{1b}[6n"), "a^[[2J^[[6n");
        assert_eq!(visible("\u{9b}6n\u{7f}\r"), "\\u{9b}6n^?^M");
        assert_eq!(
            visible("tab\tque queda, ñandú ✓"),
            "tab\tque queda, ñandú ✓"
        );
    }
}
