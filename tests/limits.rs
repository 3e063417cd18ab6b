//! Límites y apagado (issue #6): conexiones de más, quien no inicia sesión a
//! tiempo, y SIGINT/SIGTERM. Cada prueba usa el servidor real y sockets
//! reales; sin la protección que prueba, falla.
//!
//! Solo el programa completo: cada límite (`--max-clients`, el plazo para
//! entrar con `--signin-timeout-secs`, *keepalive*, el búfer de envío) y el
//! apagado con señales son de `extra/`.
#![cfg(feature = "extra")]

mod common;

use common::{Client, Server};
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const FULL: &str = "[SERVER] Client: The server is full, try again later.";

#[test]
fn a_connection_over_the_limit_is_told_and_closed_and_the_rest_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--max-clients", "2"]);
    let mut alice = server.join("alice", 10);
    let mut anon = server.connect();
    let mut third = Client::connect_raw(server.addr);
    third.expect(FULL);
    third.expect_closed();
    // Los que ya estaban siguen atendidos.
    anon.send(":ping");
    anon.expect("[SERVER] Client: pong");
    alice.send(":funds");
    alice.expect("[SERVER] Client: You have 10 dollars.");
    // Al irse uno, hay lugar otra vez.
    let gone = anon.stream().local_addr().expect("addr");
    anon.send(":q");
    anon.expect("You have been disconnected from the best chat in the universe!");
    server.expect_console(&format!("Connection closed: {gone} (TCP)"));
    let mut again = server.connect();
    again.send(":ping");
    again.expect("[SERVER] Client: pong");
}

#[test]
fn zero_turns_the_connection_limit_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--max-clients", "0"]);
    let mut clients: Vec<Client> = (0..20).map(|_| server.connect()).collect();
    for client in &mut clients {
        client.send(":ping");
        client.expect("[SERVER] Client: pong");
    }
}

#[test]
fn a_connection_that_does_not_sign_in_in_time_is_told_and_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--signin-timeout-secs", "1"]);
    let mut alice = server.join("alice", 5);
    let mut idle = server.connect();
    let started = Instant::now();
    idle.expect(
        "[SERVER] Client: You did not sign in within 1 seconds, so the connection was closed.",
    );
    idle.expect_closed();
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Quien inició sesión no tiene plazo: sigue atendido después.
    alice.send(":funds");
    alice.expect("[SERVER] Client: You have 5 dollars.");
}

/// *Slowloris*: un byte cada 200 ms no renueva el plazo, que es total.
#[test]
fn trickling_bytes_does_not_extend_the_sign_in_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--signin-timeout-secs", "1"]);
    let mut slow = server.connect();
    let mut writer: TcpStream = slow.stream().try_clone().expect("clone");
    // Sigue goteando hasta que el servidor corte (o 30 s): si el plazo se
    // renovara con cada byte, el aviso no llegaría nunca y la prueba fallaría
    // al agotar la paciencia de `expect`.
    let trickle = thread::spawn(move || {
        for _ in 0..150 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    slow.expect(
        "[SERVER] Client: You did not sign in within 1 seconds, so the connection was closed.",
    );
    slow.expect_closed();
    trickle.join().expect("hilo");
}

#[test]
fn sigterm_and_sigint_stop_the_server_cleanly() {
    for signum in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Server::start(dir.path(), &[]);
        let (mut alice, mut bob) = server.alice_and_bob();
        bob.send(":t alice 1");
        bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 0 dollars.");
        alice.expect("[SERVER] Client: bob transferred 1 dollars to you. You have 2 dollars.");
        let mut anon = server.connect();
        server.signal(signum);
        for client in [&mut alice, &mut bob, &mut anon] {
            // El aviso, y nada más: ni "bob disconnected!" (se apaga todo).
            client.expect("[SERVER] Client: The server is shutting down.");
            client.expect_closed();
        }
        server.expect_console("Server stopped.");
        assert_eq!(server.wait_exit(), Some(0), "señal {signum}");
        let server = Server::start(dir.path(), &[]);
        assert_eq!(server.connect().login("alice"), 2);
        assert_eq!(server.connect().login("bob"), 0);
    }
}

const TOO_MANY_FROM_ADDRESS: &str =
    "[SERVER] Client: There are too many connections from your address, try again later.";

/// Mil sockets quietos desde una sola dirección no dejan afuera a los
/// demás (issue #13): con `--max-clients-per-ip 3`, la cuarta conexión
/// desde `127.0.0.2` se rechaza con su propio aviso, desde `127.0.0.1` se
/// sigue entrando, y al cerrarse una de `127.0.0.2` hay lugar otra vez.
#[test]
fn one_address_cannot_take_every_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &["--max-clients", "10", "--max-clients-per-ip", "3"],
    );
    let hog: std::net::IpAddr = [127, 0, 0, 2].into();
    let mut held: Vec<Client> = (0..3)
        .map(|_| Client::connect_from(server.addr, hog))
        .collect();
    let mut extra = Client::connect_raw_from(server.addr, hog);
    extra.expect(TOO_MANY_FROM_ADDRESS);
    extra.expect_closed();
    // Los demás siguen entrando y conversando.
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("hola");
    alice.expect("bob: hola");
    // Al cerrarse una de 127.0.0.2, esa dirección tiene lugar otra vez.
    let gone = held.pop().expect("una");
    let gone_addr = gone.stream().local_addr().expect("addr");
    gone.drop_connection();
    server.expect_console(&format!("Connection closed: {gone_addr} (TCP)"));
    let mut again = Client::connect_from(server.addr, hog);
    again.send(":ping");
    again.expect("[SERVER] Client: pong");
    for client in &mut held {
        client.send(":ping");
        client.expect("[SERVER] Client: pong");
    }
}

/// Un cliente cuya red desaparece no envía FIN (issue #13): el servidor
/// arma el *keepalive* de TCP en cada conexión, con la espera de
/// `--keepalive-secs`. Se ve desde afuera con `ss -o` (iproute2), que
/// muestra el temporizador `keepalive` del socket del servidor.
/// El `tb` (el búfer de envío) que `ss -tm` muestra para el socket del
/// servidor que atiende a `client`.
fn send_buffer_seen(server: &Server, client: &Client) -> u64 {
    let client_port = client.stream().local_addr().expect("addr").port();
    let filter = format!(
        "( sport = :{} and dport = :{client_port} )",
        server.addr.port()
    );
    let output = std::process::Command::new("ss")
        .args(["-tmnH", "state", "established", &filter])
        .output()
        .expect("hace falta `ss` (iproute2): .ci/run lo instala");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let tb = text
        .split(",tb")
        .nth(1)
        .unwrap_or_else(|| panic!("sin skmem en el socket del servidor: {text:?}"));
    let digits: String = tb.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("tb ilegible: {text:?}"))
}

/// Sin tope, el kernel agranda el búfer de envío de un cliente que no lee
/// hasta 4 MiB: 300 así llevaban la memoria TCP del kernel a 1,1 GiB. Cada
/// socket del servidor lleva su tope (Linux reserva el doble de lo pedido).
#[test]
fn every_connection_has_its_send_buffer_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--send-buffer-bytes", "20000"]);
    let alice = server.join("alice", 1);
    assert_eq!(send_buffer_seen(&server, &alice), 40_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let bob = server.join("bob", 1);
    let default = chat::send_buffer::DEFAULT_BYTES as u64;
    assert_eq!(send_buffer_seen(&server, &bob), 2 * default);
}

#[test]
fn every_connection_has_its_keepalive_timer_armed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--keepalive-secs", "7"]);
    let alice = server.join("alice", 1);
    let client_port = alice.stream().local_addr().expect("addr").port();
    let filter = format!(
        "( sport = :{} and dport = :{client_port} )",
        server.addr.port()
    );
    // Mientras haya datos sin confirmar corre el de retransmisión
    // (`timer:(on,...)`); el de keepalive, cuando la conexión queda quieta.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let output = std::process::Command::new("ss")
            .args(["-tnoH", "state", "established", &filter])
            .output()
            .expect("hace falta `ss` (iproute2): .ci/run lo instala");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.contains("timer:(keepalive,") || Instant::now() >= deadline {
            break text;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let timer = text
        .split("timer:(keepalive,")
        .nth(1)
        .unwrap_or_else(|| panic!("sin keepalive en el socket del servidor: {text:?}"));
    // Lo que falta para la primera sonda, en segundos: `6.9sec`, o
    // `6.500ms` en algunas versiones de `ss` (que cuentan segundos igual).
    let number: String = timer
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let secs: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("temporizador ilegible: {timer:?}"));
    assert!(secs > 0.0 && secs <= 7.0, "{secs} s");
}
