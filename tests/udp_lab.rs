//! El laboratorio de UDP (issue #17): con `--udp-loss 0.3` el servidor
//! pierde a propósito 3 de cada 10 datagramas que recibe y 3 de cada 10 que
//! envía, así que una línea de un usuario UDP a otro llega con probabilidad
//! 0,7 × 0,7 = 0,49. La prueba cuenta cuántas de 1000 llegan, con una
//! semilla fija, y acepta una banda ancha alrededor de lo esperado: mide
//! una proporción, no un tiempo.
//!
//! Solo el programa completo: la pérdida a pedido (`--udp-loss`) es del laboratorio, `extra/laboratorio/`.
#![cfg(feature = "extra")]

mod common;

use common::{PATIENCE, Server};
use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Cuánto se espera cada respuesta antes de repetir el pedido (que pudo
/// perderse, o su respuesta).
const RETRY: Duration = Duration::from_millis(100);

/// Envía `text` (rellenado a 64 bytes, como `cliente`) hasta recibir una
/// respuesta que cumpla `done`; responde las cookies. Solo para pedidos que
/// se pueden repetir sin efecto (`:ping`).
fn ask_despite_loss(socket: &UdpSocket, server: SocketAddr, text: &str, done: &str) {
    let padded = |text: &str| format!("{text:<63}\n");
    let mut request = padded(text);
    let deadline = Instant::now() + PATIENCE;
    let mut buffer = [0u8; 2048];
    while Instant::now() < deadline {
        socket.send_to(request.as_bytes(), server).expect("send_to");
        let sent = Instant::now();
        while sent.elapsed() < RETRY {
            let Ok(n) = socket.recv(&mut buffer) else {
                break;
            };
            let reply = String::from_utf8_lossy(&buffer[..n]);
            if reply.contains(done) {
                return;
            }
            if let Some(cookie) = common::cookie_in(reply.trim_end()) {
                request = padded(&format!("{cookie} {text}"));
                break;
            }
        }
    }
    panic!("sin respuesta a {text:?} pese a los reintentos");
}

/// Un socket UDP que el servidor ya conoce como la dirección de `token`.
fn adopted(server: SocketAddr, token: &str) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(RETRY)).expect("timeout");
    ask_despite_loss(&socket, server, &format!("{token} :ping"), "pong");
    socket
}

#[test]
fn with_30_percent_loss_about_half_of_the_lines_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &[
            "--udp-loss",
            "0.3",
            "--udp-seed",
            "7",
            "--max-lines-per-sec",
            "0",
        ],
    );
    server.expect_console("UDP lab: loss 0.3, duplication 0, reordering 0, seed 7");
    let alice = server.join("alice", 1);
    let bob = server.join("bob", 1);
    let alice_udp = adopted(server.addr, &alice.token);
    let bob_udp = adopted(server.addr, &bob.token);

    // bob cuenta lo que le llega, en su propio hilo: 1000 datagramas no
    // caben en el búfer de recepción de su socket.
    let (stop, stopped) = mpsc::channel::<()>();
    let counter = thread::spawn(move || {
        let mut seen = HashSet::new();
        let mut buffer = [0u8; 2048];
        loop {
            match bob_udp.recv(&mut buffer) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    if let Some(number) = text.trim_end().strip_prefix("alice: línea ") {
                        seen.insert(number.to_string());
                    }
                }
                // Sin nada que leer: si ya se terminó de enviar, listo.
                Err(_) if stopped.try_recv().is_ok() => return seen.len(),
                Err(_) => {}
            }
        }
    });

    for i in 0..1000 {
        let line = format!("{} línea {i}", alice.token);
        alice_udp
            .send_to(format!("{line}\n").as_bytes(), server.addr)
            .expect("send_to");
        if i % 25 == 24 {
            // Cada tanto, esperar a que el servidor haya atendido todo lo
            // anterior (atiende en orden: su `pong` llega después), para no
            // desbordar ningún búfer del kernel.
            ask_despite_loss(
                &alice_udp,
                server.addr,
                &format!("{} :ping", alice.token),
                "pong",
            );
        }
    }
    ask_despite_loss(
        &alice_udp,
        server.addr,
        &format!("{} :ping", alice.token),
        "pong",
    );
    // El servidor ya envió todo lo que iba a enviar a bob: lo que no está en
    // su búfer se perdió.
    stop.send(()).expect("parar");
    let arrived = counter.join().expect("contador");
    let fraction = arrived as f64 / 1000.0;
    println!("con --udp-loss 0.3 llegaron {arrived} de 1000 líneas");
    assert!(
        (0.40..=0.58).contains(&fraction),
        "llegaron {arrived} de 1000 ({fraction}); se esperaba cerca de 0,49"
    );
}
