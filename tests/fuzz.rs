//! Fuzz por sockets (issue #6): muchas conexiones TCP envían bytes al
//! azar, líneas válidas cortadas en pedazos al azar, UTF-8 a medio
//! escribir y líneas enormes, y se cortan en cualquier punto; por UDP
//! llegan datagramas al azar, con y sin token. Mientras tanto alice y bob
//! siguen conversando. Al final el servidor no entró en pánico, y le quedan
//! los mismos hilos y descriptores que antes (se cuentan en `/proc`).

mod common;

use chat::protocolo::Event;
use common::{Client, Lcg, Server};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::Duration;

const TCP_FUZZERS: usize = 24;
const ACTIONS_EACH: usize = 25;
const DATAGRAMS: usize = 3_000;
const CHAT_ROUNDS: usize = 60;

/// Un poco de texto válido para cortar en pedazos.
fn valid_script(rng: &mut Lcg, id: usize) -> Vec<u8> {
    let options = [
        format!(":register fz{id}x{} pw\n", rng.below(1000)),
        "5\n".to_string(),
        ":login alice mala\n".to_string(),
        "hola a todos :smile\n".to_string(),
        ":p bob psst\n".to_string(),
        ":t alice 1\n".to_string(),
        ":u\n:funds\n:help\n:ping\n".to_string(),
        ":t - bob - 99999999999999999999999\n".to_string(),
        "\r\n\r\n".to_string(),
    ];
    (0..1 + rng.below(6))
        .flat_map(|_| options[rng.below(options.len())].clone().into_bytes())
        .collect()
}

/// Una conexión de fuzz: unas cuantas acciones al azar, y un corte.
fn tcp_fuzzer(addr: SocketAddr, id: usize, seed: u64) {
    let mut rng = Lcg(seed);
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    for _ in 0..ACTIONS_EACH {
        let sent = match rng.below(7) {
            // Bytes al azar.
            0 => {
                let n = rng.below(3000);
                stream.write_all(&rng.bytes(n))
            }
            // Líneas válidas en pedazos al azar.
            1 | 2 => {
                let script = valid_script(&mut rng, id);
                let mut rest = &script[..];
                let mut result = Ok(());
                while !rest.is_empty() && result.is_ok() {
                    let cut = 1 + rng.below(rest.len());
                    result = stream.write_all(&rest[..cut]);
                    rest = &rest[cut..];
                }
                result
            }
            // UTF-8 a medio escribir: el primer byte de una ñ, y luego
            // quizás un salto de línea.
            3 => stream.write_all(if rng.below(2) == 0 {
                b"hola \xc3"
            } else {
                b"hola \xc3\n"
            }),
            // Una línea enorme (hasta 200 KB), con o sin final.
            4 => {
                let mut huge = vec![b'x'; 1 + rng.below(200_000)];
                if rng.below(2) == 0 {
                    huge.push(b'\n');
                }
                stream.write_all(&huge)
            }
            // Leer un poco de lo que haya llegado.
            5 => {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                Ok(())
            }
            // Cortar ya, de una de tres maneras.
            _ => {
                match rng.below(3) {
                    0 => drop(stream),
                    1 => {
                        let _ = stream.shutdown(Shutdown::Write);
                        let mut rest = Vec::new();
                        let _ = stream.set_read_timeout(Some(common::PATIENCE));
                        let _ = stream.read_to_end(&mut rest);
                    }
                    _ => {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Datagramas al azar: bytes, comandos de entrada, tokens falsos y el
/// datagrama más grande posible.
fn udp_fuzzer(addr: SocketAddr, token: String, seed: u64) {
    let mut rng = Lcg(seed);
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return;
    };
    for i in 0..DATAGRAMS {
        let datagram = match rng.below(6) {
            0 => {
                let n = rng.below(1500);
                rng.bytes(n)
            }
            1 => format!(":register fu{i} pw\n").into_bytes(),
            2 => format!(":login alice x{i}\n").into_bytes(),
            3 => format!("{} {}", "0".repeat(32), "hola\n").into_bytes(),
            // Con un token verdadero (el de carol): líneas partidas o
            // inválidas, y tantas que el límite de líneas la desconecta.
            4 => {
                let mut d = format!("{token} ").into_bytes();
                let n = rng.below(200);
                d.extend(rng.bytes(n));
                d
            }
            _ => vec![b'y'; 65_507],
        };
        let _ = socket.send_to(&datagram, addr);
    }
}

/// Lee hasta `expected`, exigiendo que todo lo demás sean líneas del
/// protocolo (avisos de los fuzzers que entran, mensajes suyos...).
fn expect_among_noise(client: &mut Client, expected: &str) {
    loop {
        let line = client.line();
        if line == expected {
            return;
        }
        assert!(
            Event::parse(&line).is_some(),
            "{} recibió una línea fuera del protocolo: {line:?}",
            client.name
        );
    }
}

#[test]
fn random_input_over_tcp_and_udp_leaks_nothing_and_the_room_keeps_talking() {
    let mut rng = Lcg::from_clock();
    let dir = tempfile::tempdir().expect("tempdir");
    // Los fuzzers envían muy rápido desde la misma dirección: el límite de
    // líneas sigue puesto (es parte de lo que se prueba), el de contraseñas
    // fallidas no, para que alice y bob puedan seguir entrando.
    let server = Server::start(dir.path(), &["--max-signin-failures", "0"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let (threads_before, fds_before) = server.steady_threads_and_fds();
    // carol entra solo para que el fuzz UDP tenga un token verdadero.
    let carol = server.join("carol", 1);
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");

    let addr = server.addr;
    let mut fuzzers: Vec<_> = (0..TCP_FUZZERS)
        .map(|id| {
            let seed = rng.next();
            thread::spawn(move || tcp_fuzzer(addr, id, seed))
        })
        .collect();
    let token = carol.token.clone();
    let seed = rng.next();
    fuzzers.push(thread::spawn(move || udp_fuzzer(addr, token, seed)));

    // La sala sigue: cada mensaje llega, en orden, entre el ruido.
    let mut peak_threads = threads_before;
    for i in 0..CHAT_ROUNDS {
        alice.send(&format!("sigo {i}"));
        expect_among_noise(&mut bob, &format!("alice: sigo {i}"));
        peak_threads = peak_threads.max(server.threads_and_fds().0);
        // Menos de 20 líneas/s: dentro del límite por defecto.
        thread::sleep(Duration::from_millis(60));
    }
    for fuzzer in fuzzers {
        fuzzer.join().expect("fuzzer");
    }
    bob.send("y yo");
    expect_among_noise(&mut alice, "bob: y yo");

    // Todo lo abierto por los fuzzers se cerró: los hilos de sus
    // conexiones terminan (tras el segundo de despedida) y sus sockets
    // se liberan.
    drop(carol);
    let (threads_after, fds_after) = server.threads_and_fds_back_to((threads_before, fds_before));
    eprintln!(
        "hilos: {threads_before} antes, {peak_threads} como máximo, {threads_after} después; \
         descriptores: {fds_before} antes, {fds_after} después"
    );
    assert_eq!(threads_after, threads_before, "hilos de más");
    assert_eq!(fds_after, fds_before, "descriptores de más");
    assert!(peak_threads > threads_before, "el fuzz no abrió conexiones");
    let stderr = server.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let console = server.console_so_far();
    assert!(
        !console.iter().any(|l| l.contains("internal error")),
        "{console:#?}"
    );
}
