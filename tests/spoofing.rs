//! UDP sin handshake (issue #13): un "atacante" con el socket atado a
//! `127.0.0.2` (así se ve, para el servidor, un origen falsificado) no
//! obtiene del servidor más que el triple de lo que envía, no le hace
//! calcular hashes ni crear cuentas, y no muda la sesión de nadie.
//!
//! Solo el programa completo: la cookie que prueba una dirección UDP y el límite del triple son de `extra/cookie.rs`; el curso confía en la dirección de origen.
#![cfg(feature = "extra")]

mod common;

use common::{Server, UdpClient, cookie_in};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

const ATTACKER: [u8; 4] = [127, 0, 0, 2];

/// Un socket de "atacante" en `127.0.0.2`, con un tiempo de espera.
fn attacker_socket() -> UdpSocket {
    let socket = UdpSocket::bind((IpAddr::from(ATTACKER), 0)).expect("bind");
    socket
        .set_read_timeout(Some(common::PATIENCE))
        .expect("timeout");
    socket
}

/// Un datagrama que siempre tiene respuesta para una dirección sin probar
/// (64 bytes sin token: `Unknown or expired token`, 137 bytes, cabe en el
/// triple): marca el fin de las respuestas al datagrama anterior.
fn probe() -> Vec<u8> {
    format!("{:<63}\n", "marca").into_bytes()
}

const BAD_TOKEN: &str = "[SERVER] Client: Unknown or expired token. Sign in with :login <name> <password> or create an account with :register <name> <password>.";

/// Ninguna respuesta a una dirección sin probar mide más del triple del
/// datagrama que la causó, con cualquier comando y cualquier error (el
/// código anterior respondía 136 bytes a un byte, y `:help` ×8).
#[test]
fn no_reply_to_an_unproven_address_is_more_than_three_times_its_datagram() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let _alice = server.join("alice", 10);
    let socket = attacker_socket();
    let long = "x".repeat(5000);
    let datagrams: Vec<Vec<u8>> = [
        &b"x"[..],
        b"",
        b"\n",
        b"\xc3",
        b"uno\ndos",
        b":help",
        b":help\n",
        b":ping",
        b":u",
        b":funds",
        b":t alice 1",
        b":p alice hola",
        b":q",
        b"hola",
        b":smile",
        b":xyz",
        b":register",
        b":register a b",
        b":register [x] pw",
        b":login alice pw-alice",
        b":login alice mal",
        b"0123456789abcdef0123456789abcdef :funds",
        b"0123456789abcdef :login alice pw-alice",
        b"0123456789abcdef",
        long.as_bytes(),
    ]
    .iter()
    .map(|d| d.to_vec())
    .collect();
    let mut worst = 0.0f64;
    for datagram in &datagrams {
        socket.send_to(datagram, server.addr).expect("send");
        socket.send_to(&probe(), server.addr).expect("send");
        let mut replies = Vec::new();
        loop {
            let mut buffer = vec![0u8; 70_000];
            let (n, _) = socket
                .recv_from(&mut buffer)
                .unwrap_or_else(|e| panic!("sin la respuesta a la marca: {e}"));
            let reply = String::from_utf8_lossy(&buffer[..n]).into_owned();
            if reply.trim_end() == BAD_TOKEN && n <= 3 * probe().len() {
                // La respuesta a la marca (puede ser también la del
                // datagrama, si era la misma: se cuenta abajo).
                break;
            }
            replies.push(n);
        }
        assert!(
            replies.len() <= 1,
            "{datagram:?}: {} respuestas",
            replies.len()
        );
        for n in replies {
            let limit = 3 * datagram.len();
            assert!(
                n <= limit,
                "{:?}: {n} bytes de respuesta a {} bytes",
                String::from_utf8_lossy(datagram),
                datagram.len()
            );
            worst = worst.max(n as f64 / datagram.len().max(1) as f64);
        }
    }
    eprintln!("mayor factor de amplificación: {worst:.2}");
}

/// Entradas falsificadas (orígenes de `127.0.0.2` a `127.0.0.31`, nunca
/// leen) a unas 50 por segundo, con el costo de Argon2 de verdad: sin la
/// cookie, el servidor no calcula ningún hash ni crea ninguna cuenta, y los
/// usuarios UDP siguen recibiendo su `pong` enseguida. (El código anterior
/// calculaba un hash por cada una en el hilo UDP, ~30 ms, y creaba las
/// cuentas a ciegas.)
#[test]
fn forged_sign_ins_cost_no_hash_create_no_account_and_stall_nobody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::launch(
        "127.0.0.1:0",
        dir.path(),
        &["--hash-cost", "owasp", "--max-lines-per-sec", "0"],
        None,
    )
    .unwrap_or_else(|(code, stderr)| panic!("no arrancó ({code:?}): {stderr}"));
    let alice = server.join_udp("alice", 1);
    let addr = server.addr;
    let forger = thread::spawn(move || {
        let sockets: Vec<UdpSocket> = (2..32u8)
            .map(|last| UdpSocket::bind(SocketAddr::from(([127, 0, 0, last], 0))).expect("bind"))
            .collect();
        for i in 0..150 {
            let line = format!(":register forjada{i} clave-larga-de-relleno\n");
            let _ = sockets[i % sockets.len()].send_to(line.as_bytes(), addr);
            thread::sleep(Duration::from_millis(20));
        }
    });
    let mut rtts = Vec::new();
    while !forger.is_finished() {
        let sent = Instant::now();
        alice.send(":ping");
        alice.expect("[SERVER] Client: pong");
        rtts.push(sent.elapsed());
    }
    forger.join().expect("forjador");
    rtts.sort();
    let median = rtts[rtts.len() / 2];
    eprintln!(
        "{} pings durante las entradas falsas: mediana {median:?}, máximo {:?}",
        rtts.len(),
        rtts.last().copied().unwrap_or_default()
    );
    assert!(median < Duration::from_secs(1), "mediana {median:?}");
    // Ninguna cuenta forjada existe: registrarla ahora funciona.
    for i in [0, 75, 149] {
        let mut client = server.connect();
        client.send(&format!(":register forjada{i} otra-clave"));
        client.expect_welcome();
    }
}

/// Un datagrama con el token de alice desde otra dirección (un token
/// robado, o visto en una pantalla) no muda su sesión: la respuesta es una
/// cookie para esa dirección, y lo de alice sigue llegando a alice.
#[test]
fn a_token_from_an_unproven_address_does_not_move_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);
    let alice = server.join_udp("alice", 10);
    bob.expect("[SERVER] Client: alice connected!");
    let attacker = attacker_socket();
    let forged = format!("{} :funds\n", alice.token);
    attacker
        .send_to(forged.as_bytes(), server.addr)
        .expect("send");
    let mut buffer = vec![0u8; 70_000];
    let (n, _) = attacker.recv_from(&mut buffer).expect("respuesta");
    let reply = String::from_utf8_lossy(&buffer[..n]).into_owned();
    assert!(cookie_in(reply.trim_end()).is_some(), "{reply:?}");
    // Lo de alice sigue yendo a alice.
    bob.send("hola alice");
    alice.expect("bob: hola alice");
    alice.send(":funds");
    alice.expect("[SERVER] Client: You have 10 dollars.");
    // Con la cookie de su propia dirección, quien tiene el token sí puede
    // mudar la sesión (así cambia de red un cliente de verdad).
    let mut moved = UdpClient::new(server.addr);
    moved.name = "alice (nueva dirección)".into();
    moved.adopt(&alice.token);
    bob.send("¿dónde estás?");
    moved.expect("bob: ¿dónde estás?");
}
