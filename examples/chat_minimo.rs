//! Paso 3 (enunciado 003): el chat más chico que cumple el enunciado. Un
//! hilo por cliente, un `Mutex<HashMap>` con el socket de cada uno, y cada
//! línea reenviada a todos los demás como `<id>: mensaje`; `:q` para salir.
//!
//! `cargo run --example chat_minimo -- 127.0.0.1:7879` y varios
//! `nc 127.0.0.1 7879`. Lo que le falta para ser el `servidor` del proyecto
//! (cuentas, saldos, colas de salida, disco, UDP) lo cuenta el capítulo 3
//! del informe.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Los conectados: el identificador de cada uno y su socket, para escribirle.
type Room = Arc<Mutex<HashMap<u64, TcpStream>>>;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7879".into());
    let listener = TcpListener::bind(&addr)?;
    println!("Listening on {}", listener.local_addr()?);
    serve(listener);
    Ok(())
}

/// Acepta para siempre: un identificador y un hilo por conexión.
pub fn serve(listener: TcpListener) {
    let room: Room = Arc::new(Mutex::new(HashMap::new()));
    let next_id = AtomicU64::new(1);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let room = Arc::clone(&room);
        thread::spawn(move || client(id, stream, &room));
    }
}

/// El hilo de un cliente: saluda, avisa a todos, reenvía sus líneas y, al
/// salir (con `:q` o cortando), lo saca de la sala.
fn client(id: u64, stream: TcpStream, room: &Room) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    if writeln!(writer, "Welcome to the best chat in the universe!").is_err() {
        return;
    }
    // La sección crítica: agregar y avisar con el candado tomado, para que
    // nadie vea la sala a medio cambiar.
    {
        let mut clients = room.lock().unwrap_or_else(|e| e.into_inner());
        clients.insert(id, writer);
        broadcast(
            &mut clients,
            None,
            &format!("[SERVER] Client: {id} connected!"),
        );
    }
    println!("{id} connected");
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if line.trim() == ":q" {
            break;
        }
        println!("{id}: {line}");
        let mut clients = room.lock().unwrap_or_else(|e| e.into_inner());
        broadcast(&mut clients, Some(id), &format!("{id}: {line}"));
    }
    let mut clients = room.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(mut me) = clients.remove(&id) {
        let _ = writeln!(
            me,
            "You have been disconnected from the best chat in the universe!"
        );
    }
    broadcast(
        &mut clients,
        None,
        &format!("[SERVER] Client: {id} disconnected!"),
    );
    println!("{id} disconnected");
}

/// Escribe `line` a todos menos a `except` (quien la escribió); olvida a
/// quien ya no se puede escribir. Con el candado tomado mientras se
/// escribe: si un cliente no lee, su socket se llena, el `write` se bloquea
/// y con él toda la sala. Es el primer problema que el servidor de verdad
/// resuelve (sus colas de salida, sección 3.6 del informe).
fn broadcast(clients: &mut HashMap<u64, TcpStream>, except: Option<u64>, line: &str) {
    clients.retain(|id, stream| Some(*id) == except || writeln!(stream, "{line}").is_ok());
}
