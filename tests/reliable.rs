//! El modo confiable sobre UDP (issue #17), con el servidor y el cliente
//! de verdad: con el laboratorio perdiendo, duplicando y desordenando
//! datagramas, mil líneas de un usuario confiable a otro llegan todas, una
//! vez cada una y en orden; un servidor que desaparece se da por ido tras
//! los reintentos, y un cliente que desaparece, tras el silencio que el
//! servidor tolera; y en la misma sala conviven usuarios confiables, de
//! UDP simple y de TCP.
//!
//! Ninguna prueba mide tiempos: se espera cada línea con un plazo generoso
//! (un hueco que se pierde varias veces seguidas espera una sonda que se
//! duplica cada vez).
//!
//! Solo el programa completo: la entrega confiable sobre UDP (`--reliable`, `--udp-loss`) es del laboratorio, `extra/laboratorio/`.
#![cfg(feature = "extra")]

mod common;

use common::{PATIENCE, Running, Server};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// El número que sigue a `key=` en una línea de `:stats`.
fn stat(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("falta {key} en {line:?}"))
}

/// Los dos números de "this client retransmitted N datagrams and discarded
/// M duplicates".
fn client_counts(lines: &[String]) -> (u64, u64) {
    let line = lines
        .iter()
        .find(|l| l.starts_with("Reliable UDP: this client retransmitted "))
        .unwrap_or_else(|| panic!("sin la cuenta del modo confiable en {lines:?}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

fn reliable_client(server: &Server, extra: &[&str]) -> Running {
    let addr = server.addr.to_string();
    let mut args = vec!["--udp", "--reliable", "--addr", &addr];
    args.extend_from_slice(extra);
    Running::start(&args)
}

#[test]
fn with_loss_duplication_and_reordering_1000_lines_arrive_once_each_and_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &[
            "--udp-loss",
            "0.3",
            "--udp-dup",
            "0.1",
            "--udp-reorder",
            "0.1",
            "--udp-seed",
            "7",
            // Por UDP un límite descarta: aquí se prueba la entrega, no él.
            "--max-lines-per-sec",
            "0",
        ],
    );
    server.expect_console("UDP lab: loss 0.3, duplication 0.1, reordering 0.1, seed 7");
    let mut bob = reliable_client(&server, &[]);
    bob.send(":register bob clave-bob\n10\n");
    // La entrada también viaja por el modo confiable: con pérdidas tarda,
    // pero llega.
    let joined = "[SERVER] Client: The balance of 10 has been set to your account.";
    bob.lines_until(|l| l == joined, PATIENCE * 3);

    let mut script = String::from(":register alice clave-alice\n10\n");
    for i in 0..1000 {
        script.push_str(&format!("línea {i}\n"));
    }
    let mut alice = reliable_client(&server, &[]);
    alice.send(&script);
    let seen = bob.lines_until(|l| l == "alice: línea 999", Duration::from_secs(400));
    let got: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("alice: "))
        .collect();
    let expected: Vec<String> = (0..1000).map(|i| format!("alice: línea {i}")).collect();
    assert_eq!(got, expected, "cada línea una vez y en orden");

    // alice termina con su entrada: el `:q` también llega, con su acuse.
    let (code, stderr, _) = alice.finish();
    assert_eq!(code, Some(0), "{stderr}");

    // Lo que costó, según el servidor y según bob.
    bob.send(":stats\n");
    let stats = bob.lines_until(|l| l.contains("udp_retransmitted="), PATIENCE * 3);
    let line = stats.last().map(String::as_str).unwrap_or_default();
    let (retransmitted, duplicates) = (
        stat(line, "udp_retransmitted"),
        stat(line, "udp_duplicates_discarded"),
    );
    let lost = stat(line, "udp_lab_lost");
    println!(
        "servidor: el laboratorio perdió {lost} datagramas; el modo confiable \
         retransmitió {retransmitted} y descartó {duplicates} repetidos"
    );
    assert!(lost > 0 && retransmitted > 0 && duplicates > 0, "{line}");
    let (code, stderr, ending) = bob.finish();
    assert_eq!(code, Some(0), "{stderr} {ending:?}");
    let (bob_retransmitted, bob_duplicates) = client_counts(&ending);
    println!("bob retransmitió {bob_retransmitted} y descartó {bob_duplicates} repetidos");
    assert!(
        bob_duplicates > 0,
        "el servidor duplica el 10 %: {ending:?}"
    );
}

#[test]
fn a_server_that_vanishes_is_declared_gone_after_the_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let mut ana = reliable_client(&server, &["--retries", "3"]);
    ana.send(":register ana clave\n5\n");
    ana.expect("[SERVER] Client: The balance of 5 has been set to your account.");
    server.kill();
    ana.send("¿hay alguien?\n");
    // 3 vencimientos con el plazo duplicándose: unos segundos.
    ana.lines_until(
        |l| l == "The server did not acknowledge 3 retransmissions in a row: it is gone.",
        PATIENCE * 3,
    );
    let (code, stderr, _) = ana.finish();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("The connection to the server was lost."),
        "{stderr}"
    );
}

/// Un cliente confiable que desaparece sin despedirse (SIGKILL): lo que el
/// servidor le envía queda sin acuse, y tras `--reliable-timeout-secs` el
/// servidor lo da por ido y termina su sesión: los demás lo ven irse, sin
/// esperar los 300 s de una sesión UDP callada.
#[test]
fn a_reliable_client_that_vanishes_is_announced_as_disconnected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--reliable-timeout-secs", "2"]);
    let mut carol = server.join("carol", 10);
    let mut ana = reliable_client(&server, &[]);
    ana.send(":register ana clave\n5\n");
    ana.expect("[SERVER] Client: The balance of 5 has been set to your account.");
    carol.expect("[SERVER] Client: ana connected!");
    ana.child.kill().expect("kill");
    ana.child.wait().expect("wait");
    carol.send("¿sigues ahí, ana?");
    carol.expect("[SERVER] Client: ana disconnected!");
    server.expect_console_between("127.0.0.1:", "reliable mode gave up");
    carol.send(":u");
    carol.expect("[SERVER] Client: Connected users: carol");
}

#[test]
fn reliable_plain_udp_and_tcp_users_share_the_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut carol = server.join("carol", 10);
    let mut ana = reliable_client(&server, &[]);
    ana.send(":register ana clave\n5\n");
    carol.expect("[SERVER] Client: ana connected!");
    let mut bob = Running::start(&["--udp", "--addr", &server.addr.to_string()]);
    bob.send(":register bob clave\n5\n");
    carol.expect("[SERVER] Client: bob connected!");
    ana.expect("[SERVER] Client: bob connected!");

    ana.send("hola desde el modo confiable\n");
    carol.expect("ana: hola desde el modo confiable");
    bob.expect("ana: hola desde el modo confiable");
    bob.send("hola desde UDP simple\n");
    ana.expect("bob: hola desde UDP simple");
    carol.expect("bob: hola desde UDP simple");
    carol.send("hola desde TCP");
    ana.expect("carol: hola desde TCP");
    carol.send(":p ana secreto");
    ana.expect("[PRIVATE] carol: secreto");
    ana.send(":funds\n");
    ana.expect("[SERVER] Client: You have 5 dollars.");

    let (code, stderr, _) = ana.finish();
    assert_eq!(code, Some(0), "{stderr}");
    carol.expect("[SERVER] Client: ana disconnected!");
    let (code, stderr, _) = bob.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Acusar es aceptar: con el límite de líneas por defecto (20 por
/// segundo, ráfagas de 60), un cliente confiable que envía de un tirón 200
/// líneas y 20 `:t` no pierde ninguna. El servidor no acusa la que pasaría
/// del límite, y el emisor la reenvía con su plazo: se frena, como un
/// emisor TCP. El código anterior acusaba todo y descartaba lo de más: el
/// cliente mostraba `Me:` para las 200 y llegaban 59, y ninguna `:t`.
#[test]
fn every_line_the_reliable_client_sends_is_accepted_even_over_the_line_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--hash-cost", "minimal"]);
    let mut observer = server.join("obs", 0);
    let mut script = String::from(":register carla clave-carla\n100\n");
    for i in 0..200 {
        script.push_str(&format!("línea {i}\n"));
        if i % 10 == 9 {
            script.push_str(":t obs 1\n");
        }
    }
    let mut carla = reliable_client(&server, &[]);
    carla.send(&script);
    drop(carla.stdin.take());
    observer.expect("[SERVER] Client: carla connected!");
    let mut lines = 0;
    let mut transfers = 0;
    while lines < 200 || transfers < 20 {
        let line = observer.line();
        if let Some(text) = line.strip_prefix("carla: línea ") {
            assert_eq!(text, lines.to_string(), "en orden");
            lines += 1;
        } else if line.starts_with("[SERVER] Client: carla transferred 1 dollars to you.") {
            transfers += 1;
        }
    }
    let (code, stderr, _) = carla.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Un NAT de juguete entre un cliente y el servidor: reenvía en los dos
/// sentidos, y [`Nat::rebind`] cambia el puerto con el que sale hacia el
/// servidor, como un NAT que olvidó la asociación y la rehízo: lo que el
/// servidor envíe al puerto viejo se pierde.
struct Nat {
    front: SocketAddr,
    back: Arc<Mutex<Arc<UdpSocket>>>,
    stop: Arc<AtomicBool>,
}

impl Nat {
    /// Cada hilo despierta así de seguido para ver si debe terminar o si
    /// cambió el socket de salida.
    const POLL: Duration = Duration::from_millis(20);

    fn start(server: SocketAddr) -> Nat {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("bind"));
        front.set_read_timeout(Some(Nat::POLL)).expect("timeout");
        let back = Arc::new(Mutex::new(Arc::new(Nat::outside())));
        let stop = Arc::new(AtomicBool::new(false));
        let client = Arc::new(Mutex::new(None::<SocketAddr>));
        let (inside, outside, done, who) = (
            Arc::clone(&front),
            Arc::clone(&back),
            Arc::clone(&stop),
            Arc::clone(&client),
        );
        thread::spawn(move || {
            let mut buffer = vec![0u8; 65_536];
            while !done.load(Ordering::SeqCst) {
                if let Ok((n, from)) = inside.recv_from(&mut buffer) {
                    *who.lock().expect("nat") = Some(from);
                    let out = Arc::clone(&outside.lock().expect("nat"));
                    let _ = out.send_to(&buffer[..n], server);
                }
            }
        });
        let (inside, outside, done) = (Arc::clone(&front), Arc::clone(&back), Arc::clone(&stop));
        thread::spawn(move || {
            let mut buffer = vec![0u8; 65_536];
            while !done.load(Ordering::SeqCst) {
                let out = Arc::clone(&outside.lock().expect("nat"));
                if let Ok((n, from)) = out.recv_from(&mut buffer)
                    && from == server
                    && let Some(to) = *client.lock().expect("nat")
                {
                    let _ = inside.send_to(&buffer[..n], to);
                }
            }
        });
        let front = front.local_addr().expect("addr");
        Nat { front, back, stop }
    }

    /// Un socket de salida nuevo, en otro puerto.
    fn outside() -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(Nat::POLL)).expect("timeout");
        socket
    }

    fn rebind(&self) {
        *self.back.lock().expect("nat") = Arc::new(Nat::outside());
    }
}

impl Drop for Nat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Un cliente confiable detrás de un NAT que cambia de puerto a mitad de
/// la sesión: el servidor ve el token desde una dirección nueva y pide la
/// cookie; el cliente la usa, la sesión se muda con su secuencia, y las
/// líneas siguen en los dos sentidos. Antes, el cliente que ya tenía
/// token ignoraba la cookie: nada de lo que enviaba volvía a entrar, y
/// terminaba dando al servidor por ido.
#[test]
fn a_reliable_client_behind_a_nat_that_rebinds_keeps_its_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut carol = server.join("carol", 10);
    let nat = Nat::start(server.addr);
    let mut ana = Running::start(&["--udp", "--reliable", "--addr", &nat.front.to_string()]);
    ana.send(":register ana clave\n5\n");
    carol.expect("[SERVER] Client: ana connected!");
    ana.send("antes\n");
    carol.expect("ana: antes");

    nat.rebind();
    for i in 0..5 {
        ana.send(&format!("después {i}\n"));
    }
    for i in 0..5 {
        carol.expect(&format!("ana: después {i}"));
    }
    server.expect_console_between("127.0.0.1:", ": its reliable pair moves with it");
    carol.send("hola, ana");
    ana.expect("carol: hola, ana");

    let (code, stderr, _) = ana.finish();
    assert_eq!(code, Some(0), "{stderr}");
    carol.expect("[SERVER] Client: ana disconnected!");
}
