//! Paso 1 (enunciado 002): un servidor de eco multihilo, el programa más
//! chico que usa un socket TCP de verdad. Escucha, acepta y, por cada
//! cliente, un hilo que devuelve cada línea tal como llegó.
//!
//! `cargo run --example echo -- 127.0.0.1:7878` y, en otra terminal,
//! `nc 127.0.0.1 7878`. No es el servidor del chat (ese es `servidor`):
//! es el primer escalón para leerlo.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    // bind + listen: el kernel ya acepta conexiones en la cola de listen.
    let listener = TcpListener::bind(&addr)?;
    println!("Listening on {}", listener.local_addr()?);
    serve(listener);
    Ok(())
}

/// accept saca una conexión de la cola; cada una tiene su propio hilo,
/// porque `read` se bloquea esperando a *ese* cliente.
pub fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || echo(stream));
            }
            Err(error) => eprintln!("accept: {error}"),
        }
    }
}

/// Devuelve cada línea (terminada en `\n`) hasta que el cliente cierre.
fn echo(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    // TCP es un flujo de bytes: BufReader junta lo leído hasta el `\n`.
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if writeln!(writer, "{line}").is_err() {
            return;
        }
    }
}
