//! Paso 2 (enunciado 000): el chat UDP más chico. Un solo socket, un solo
//! hilo y un bucle de `recv_from`: UDP no tiene conexiones ni `accept`, así
//! que no hay un hilo por cliente que repartir. Como tampoco hay conexión
//! que diga quién escribe, cada usuario recibe un **token** al registrarse
//! y lo antepone a cada línea; el servidor reenvía con `send_to` a cada
//! dirección que conoce.
//!
//! `cargo run --example chat_udp -- 127.0.0.1:7880` y varios
//! `nc -u 127.0.0.1 7880`: `:register ana`, después `<token> hola`, y desde
//! otra terminal (otra dirección) `:login <token>` para volver a entrar.
//! Lo que le falta para ser el lado UDP del `servidor` (contraseñas, la
//! cookie que prueba una dirección, sesiones que vencen, la sala común con
//! TCP) lo cuenta la sección 3.8 del informe.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};

/// Los usuarios: el nombre de cada token, y el token de cada dirección
/// conocida (a quién reenviar). Un solo hilo los toca: no hace falta
/// ningún `Mutex`.
#[derive(Default)]
pub struct Room {
    names: HashMap<String, String>,
    addrs: HashMap<SocketAddr, String>,
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7880".into());
    // bind y nada más: sin listen ni accept, el socket ya recibe datagramas.
    let socket = UdpSocket::bind(&addr)?;
    println!("Listening on {}", socket.local_addr()?);
    serve(&socket);
    Ok(())
}

/// Atiende para siempre: cada vuelta es un datagrama, de quien sea.
pub fn serve(socket: &UdpSocket) {
    let mut room = Room::default();
    // 64 KiB: un datagrama UDP no pasa de 65.507 bytes de datos; con un
    // búfer más chico, el resto se perdería sin aviso.
    let mut buffer = [0u8; 65_536];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..len]);
        let (reply, everyone) = room.handle(text.trim_end(), from);
        if let Some(reply) = reply {
            let _ = socket.send_to(format!("{reply}\n").as_bytes(), from);
        }
        if let Some(line) = everyone {
            for addr in room.addrs.keys().filter(|addr| **addr != from) {
                let _ = socket.send_to(format!("{line}\n").as_bytes(), addr);
            }
        }
    }
}

impl Room {
    /// Una línea que llegó de `from`. Devuelve la respuesta para `from` y la
    /// línea para todos los demás, si hay.
    pub fn handle(&mut self, line: &str, from: SocketAddr) -> (Option<String>, Option<String>) {
        if let Some(name) = line.strip_prefix(":register ") {
            // 128 bits al azar: adivinar un token es adivinar una contraseña.
            let token = format!("{:032x}", rand::random::<u128>());
            let name = name.trim().to_string();
            self.names.insert(token.clone(), name.clone());
            return self.join(token, name, from);
        }
        if let Some(token) = line.strip_prefix(":login ") {
            let token = token.trim().to_string();
            let Some(name) = self.names.get(&token).cloned() else {
                return (Some("Unknown token.".into()), None);
            };
            return self.join(token, name, from);
        }
        // Cualquier otra línea: `<token> <texto>`.
        let (token, text) = line.split_once(' ').unwrap_or((line, ""));
        let Some(name) = self.names.get(token).cloned() else {
            return (
                Some("Start with :register <name> or :login <token>.".into()),
                None,
            );
        };
        if text.trim() == ":q" {
            self.addrs.remove(&from);
            let bye = "You have been disconnected from the best chat in the universe!";
            return (
                Some(bye.into()),
                Some(format!("[SERVER] Client: {name} disconnected!")),
            );
        }
        // Quien escribe desde una dirección nueva con su token, recibe ahí.
        self.addrs.insert(from, token.to_string());
        println!("{name}: {text}");
        (None, Some(format!("{name}: {text}")))
    }

    /// `name`, con su `token`, entra (o vuelve a entrar) desde `from`.
    fn join(
        &mut self,
        token: String,
        name: String,
        from: SocketAddr,
    ) -> (Option<String>, Option<String>) {
        self.addrs.insert(from, token.clone());
        println!("{name} connected from {from}");
        (
            Some(format!(
                "Welcome to the best chat in the universe! Your token is {token}"
            )),
            Some(format!("[SERVER] Client: {name} connected!")),
        )
    }
}
