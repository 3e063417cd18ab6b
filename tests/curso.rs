//! El servidor del curso con las respuestas del curso en cada punto de
//! enchufe (`Plugins::default()`: nada que preparar en el socket, nadie
//! que cuente, ningún límite), sobre sockets de verdad: sin lo que agrega
//! `extra/`, sigue siendo un chat completo. El servidor corre en este
//! mismo proceso, en `127.0.0.1:0` con un directorio temporal.

mod common;

use chat::curso::seams::Plugins;
use chat::servidor::{Config, Server};
use common::Client;
use std::net::SocketAddr;
use std::thread;

/// El servidor del curso, sin enchufes, en un hilo de la prueba.
fn course_server(dir: &std::path::Path) -> SocketAddr {
    let dir = dir.to_string_lossy().into_owned();
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--hash-cost",
        "minimal",
        "--data-dir",
        &dir,
    ];
    let config = Config::from_args(args.map(String::from)).expect("opciones válidas");
    let server = Server::bind(&config, Box::new(|_: &str| {}), Plugins::default())
        .expect("el servidor arranca");
    let addr = server.local_addr().expect("dirección");
    thread::spawn(move || server.serve());
    addr
}

#[test]
fn with_the_course_plugins_the_chat_works_and_limits_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = course_server(dir.path());

    let mut ana = Client::connect(addr);
    ana.register("ana", 100);
    let mut bob = Client::connect(addr);
    bob.register("bob", 20);
    ana.expect("[SERVER] Client: bob connected!");

    // Mensajes, privados, la lista, una transferencia y el saldo.
    ana.send("hola bob :smile");
    bob.expect("ana: hola bob :~)");
    bob.send(":p ana psst");
    ana.expect("[PRIVATE] bob: psst");
    ana.send(":u");
    ana.expect("[SERVER] Client: Connected users: ana, bob");
    ana.send(":t bob 30");
    ana.expect("[SERVER] Client: You transferred 30 dollars to bob. You have 70 dollars.");
    bob.expect("[SERVER] Client: ana transferred 30 dollars to you. You have 50 dollars.");
    assert_eq!(bob.funds(), 50);

    // Sin límite de líneas: 100 seguidas llegan sin aviso de frenado (con
    // los límites del programa completo, 20 por segundo, llegaría uno).
    let burst: String = (0..100).map(|i| format!("línea {i}\n")).collect();
    ana.send_bytes(burst.as_bytes());
    for i in 0..100 {
        bob.expect(&format!("ana: línea {i}"));
    }
    ana.expect_nothing_pending();

    // Sin bloqueo por contraseñas: 60 malas desde la misma dirección, y la
    // buena se acepta igual (ana ya está dentro: es la respuesta a una
    // contraseña correcta, no un bloqueo).
    let mut guess = Client::connect(addr);
    for i in 0..60 {
        guess.send(&format!(":login ana mala{i}"));
        guess.expect("[SERVER] Client: Wrong name or password.");
    }
    guess.send(":login ana pw-ana");
    guess.expect("[SERVER] Client: ana is already connected.");

    // Nadie cuenta: `:stats` no existe sin el observador del programa
    // completo.
    ana.send(":stats");
    ana.expect("[SERVER] Client: Unknown command :stats. Type :help to see the commands.");

    ana.send(":q");
    ana.expect("You have been disconnected from the best chat in the universe!");
    bob.expect("[SERVER] Client: ana disconnected!");
}
