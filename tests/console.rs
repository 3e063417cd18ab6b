//! La consola del servidor nunca frena el chat (issue #12): con su salida
//! estándar en una tubería que nadie lee, el servidor sigue atendiendo a
//! todos, y hasta se apaga en orden. Solo el programa completo: la consola
//! del curso escribe directo en la salida estándar, y una tubería llena la
//! detiene (`extra/logger.rs` no).

#![cfg(feature = "extra")]

mod common;

use common::Server;

/// Un mensaje de ~200 bytes: 1000 de ellos son unos 200 KB de consola,
/// más del triple de lo que cabe en una tubería de Linux (64 KiB).
fn message(i: usize) -> String {
    format!("mensaje {i:04} {}", "x".repeat(180))
}

#[test]
fn a_console_nobody_reads_never_freezes_the_chat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_unread(dir.path(), &["--max-lines-per-sec", "0"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    for i in 0..1000 {
        bob.send(&message(i));
        alice.expect(&format!("bob: {}", message(i)));
        if i % 100 == 0 {
            // Cada respuesta llega a tiempo (la paciencia de `line`): con la
            // consola bloqueando a los hilos, no llegaría nunca.
            alice.send(":funds");
            alice.expect("[SERVER] Client: You have 1 dollars.");
            bob.send(":t alice 1");
            bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 0 dollars.");
            alice.expect("[SERVER] Client: bob transferred 1 dollars to you. You have 2 dollars.");
            alice.send(":t bob 1");
            alice.expect("[SERVER] Client: You transferred 1 dollars to bob. You have 1 dollars.");
            bob.expect("[SERVER] Client: alice transferred 1 dollars to you. You have 1 dollars.");
        }
    }
    // Entran clientes nuevos, y uno que sale avisa a los demás.
    let mut carol = server.join("carol", 5);
    alice.expect("[SERVER] Client: carol connected!");
    carol.send(":q");
    carol.expect("You have been disconnected from the best chat in the universe!");
    alice.expect("[SERVER] Client: carol disconnected!");
    // El apagado no espera a la consola más que su margen.
    server.signal(libc::SIGTERM);
    alice.expect("[SERVER] Client: The server is shutting down.");
    assert_eq!(server.wait_exit(), Some(0));
}
