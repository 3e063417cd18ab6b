//! Entrada mala por la red: nada de esto tumba el servidor ni molesta a los
//! demás clientes. Cada prueba termina comprobando que el resto del chat
//! sigue funcionando.

mod common;

use common::Server;
use std::io::Write;
use std::net::TcpStream;
use std::thread;

fn server(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Server::start(dir.path(), extra), dir)
}

#[test]
fn invalid_utf8_gets_an_error_and_the_connection_goes_on() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send_bytes(b"hola \xff\xfe mundo\n");
    bob.expect("[SERVER] Client: The line is not valid UTF-8. It was discarded.");
    // UTF-8 cortado a la mitad de un carácter (la "ñ" son dos bytes).
    bob.send_bytes(b"a\xc3\n");
    bob.expect("[SERVER] Client: The line is not valid UTF-8. It was discarded.");
    bob.send("sigo aquí, señor");
    alice.expect("bob: sigo aquí, señor");
    alice.expect_nothing_pending();
}

#[test]
fn long_lines_are_refused_without_being_kept() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let limit = "x".repeat(4096);
    bob.send(&limit);
    alice.expect(&format!("bob: {limit}"));
    bob.send(&"y".repeat(4097));
    bob.expect("[SERVER] Client: Line too long: the limit is 4096 bytes. It was discarded.");
    // 8 MiB sin un solo salto de línea, enviados desde otro hilo: el
    // servidor los descarta a medida que llegan.
    let mut writer = bob.stream().try_clone().expect("clone");
    let sender = thread::spawn(move || {
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..128 {
            writer.write_all(&chunk).expect("write");
        }
        writer.write_all(b"\n").expect("write");
    });
    bob.expect("[SERVER] Client: Line too long: the limit is 4096 bytes. It was discarded.");
    sender.join().expect("sender");
    bob.send("corto");
    alice.expect("bob: corto");
    alice.expect_nothing_pending();
}

#[test]
fn empty_lines_are_ignored_and_crlf_is_accepted() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send_bytes(b"\n\r\n   \n\t\nhola\r\n");
    alice.expect("bob: hola");
    bob.expect_nothing_pending();
    alice.expect_nothing_pending();
}

#[test]
fn control_characters_never_reach_another_terminal() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("\x1b[2J\x1b[31mrojo\x07\x08 y\tfin");
    alice.expect("bob: [2J[31mrojo y fin");
    bob.send(":p alice \x1b]0;titulo\x07hola");
    alice.expect("[PRIVATE] bob: ]0;titulohola");
    // Una línea que solo tenía controles no se envía.
    bob.send("\x1b\x07");
    alice.expect_nothing_pending();
}

#[test]
fn a_client_that_drops_mid_line_harms_nobody() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send_bytes("a medio escri".as_bytes());
    bob.drop_connection();
    alice.expect("[SERVER] Client: bob disconnected!");
    // Antes de iniciar sesión, también a mitad de un carácter.
    let mut raw = TcpStream::connect(server.addr).expect("connect");
    raw.write_all(b":register carol p\xc3").expect("write");
    drop(raw);
    let mut carol = server.join("carol", 2);
    alice.expect("[SERVER] Client: carol connected!");
    carol.send("todo bien");
    alice.expect("carol: todo bien");
    alice.expect_nothing_pending();
}

// Solo el programa completo: las colas de salida en bytes y su techo (`--max-queue-bytes`, `--max-total-queue-bytes`) son de `extra/rendimiento/`; el curso corta a las 1024 líneas.
#[cfg(feature = "extra")]
/// Un cliente que deja de leer no frena a nadie: su cola crece hasta el
/// límite (aquí 64 KiB) y el servidor lo desconecta, mientras los demás
/// siguen recibiendo.
#[test]
fn a_client_that_stops_reading_is_cut_off_at_its_queue_limit() {
    // alice envía miles de líneas lo más rápido que puede: sin el límite
    // de líneas por segundo, que aquí no es lo que se prueba.
    let (server, _dir) = server(&["--max-queue-bytes", "65536", "--max-lines-per-sec", "0"]);
    let mut alice = server.join("alice", 1);
    let staller = server.join("staller", 1);
    let mut bob = server.join("bob", 1);
    alice.expect("[SERVER] Client: staller connected!");
    alice.expect("[SERVER] Client: bob connected!");

    // alice envía y bob lee cada línea: bob nunca se atrasa, mientras el
    // staller no lee nada. Le caben unos MiB en los búferes del kernel más
    // 64 KiB en su cola: 16 000 líneas de 4000 bytes (64 MB) son un tope holgado.
    let line = "m".repeat(4000);
    let mut sent = 0;
    loop {
        assert!(sent < 16_000, "el staller nunca fue desconectado");
        alice.send(&line);
        sent += 1;
        let got = bob.line();
        if got == "[SERVER] Client: staller disconnected!" {
            break;
        }
        assert_eq!(
            got,
            format!("alice: {line}"),
            "bob debe recibirlo todo, a tiempo"
        );
    }
    alice.expect("[SERVER] Client: staller disconnected!");
    server.expect_console("[SERVER] Client: staller disconnected!");
    drop(staller);
    bob.send("sigo vivo");
    alice.expect("bob: sigo vivo");
}

#[cfg(feature = "extra")]
/// Un servidor con un techo de 256 KiB entre todas las colas atascadas y
/// colas por cliente de 64 MiB: lo que corta es el techo, no el límite de
/// cada uno.
fn ceiling_server() -> (Server, tempfile::TempDir) {
    server(&[
        "--max-queue-bytes",
        "67108864",
        "--max-total-queue-bytes",
        "262144",
        "--max-lines-per-sec",
        "0",
    ])
}

// Solo el programa completo: las colas de salida en bytes y su techo (`--max-queue-bytes`, `--max-total-queue-bytes`) son de `extra/rendimiento/`; el curso corta a las 1024 líneas.
#[cfg(feature = "extra")]
/// El techo corta a quien no lee, no a quien lee más lento que una ráfaga:
/// una cola solo se puede cortar tras `STUCK_AFTER` (1 s) sin que su socket
/// acepte nada. Antes se cortaba en cuanto la suma pasaba el techo, y el
/// escenario de 10.000 clientes del benchmark perdía a miles que sí leían.
#[test]
fn a_slow_reader_in_a_burst_is_not_cut_by_the_ceiling() {
    let (server, _dir) = ceiling_server();
    let mut alice = server.join("alice", 1);
    let mut slow = server.join("slow", 1);
    alice.expect("[SERVER] Client: slow connected!");
    // 20 MB de una vez: mucho más que el techo y que los búferes del kernel.
    let line = "m".repeat(4000);
    let burst = format!("{line}\n").repeat(5000);
    let writer = thread::spawn(move || {
        alice.send_bytes(burst.as_bytes());
        alice
    });
    // slow lee todo, con una pausa de 100 ms cada 100 líneas: siempre
    // avanza (mucho antes de 1 s), aunque más lento de lo que llega.
    for i in 0..5000 {
        assert_eq!(slow.line(), format!("alice: {line}"), "línea {i}");
        if i % 100 == 99 {
            thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let mut alice = writer.join().expect("alice");
    alice.send(":u");
    alice.expect("[SERVER] Client: Connected users: alice, slow");
}

// Solo el programa completo: las colas de salida en bytes y su techo (`--max-queue-bytes`, `--max-total-queue-bytes`) son de `extra/rendimiento/`; el curso corta a las 1024 líneas.
#[cfg(feature = "extra")]
/// Leer de a un byte no es leer: un cliente que toma un byte cada 50 ms
/// (un *slowloris* que lee) se corta como uno que no lee. El plazo de
/// `STUCK_AFTER` no lo salva: Linux solo avisa que un socket acepta más
/// (`POLLOUT`) cuando se libera una buena parte de su búfer, así que para
/// el flusher esa cola nunca avanza.
#[test]
fn a_client_that_reads_a_byte_at_a_time_is_cut_like_one_that_does_not_read() {
    let (server, _dir) = ceiling_server();
    let mut alice = server.join("alice", 1);
    let mut bob = server.join("bob", 1);
    let drip = server.join("drip", 1);
    alice.expect("[SERVER] Client: bob connected!");
    alice.expect("[SERVER] Client: drip connected!");
    bob.expect("[SERVER] Client: drip connected!");
    let mut socket = drip.stream().try_clone().expect("clonar");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = std::sync::Arc::clone(&stop);
    let dripping = thread::spawn(move || {
        use std::io::Read;
        let mut byte = [0u8; 1];
        let started = std::time::Instant::now();
        // Hasta que la prueba vea el corte (o un minuto, para no colgarla).
        while !stopped.load(std::sync::atomic::Ordering::Relaxed)
            && started.elapsed() < std::time::Duration::from_secs(60)
        {
            match socket.read(&mut byte) {
                Ok(1) => thread::sleep(std::time::Duration::from_millis(50)),
                _ => return,
            }
        }
    });
    let line = "m".repeat(4000);
    let mut sent = 0;
    loop {
        assert!(sent < 20_000, "drip nunca fue cortado");
        alice.send(&line);
        sent += 1;
        let got = bob.line();
        if got == "[SERVER] Client: drip disconnected!" {
            break;
        }
        assert_eq!(got, format!("alice: {line}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    dripping.join().expect("drip");
    drop(drip);
    alice.expect("[SERVER] Client: drip disconnected!");
    bob.send("sigo vivo");
    alice.expect("bob: sigo vivo");
}

// Solo el programa completo: las colas de salida en bytes y su techo (`--max-queue-bytes`, `--max-total-queue-bytes`) son de `extra/rendimiento/`; el curso corta a las 1024 líneas.
#[cfg(feature = "extra")]
/// Muchos clientes que no leen no llevan la memoria del servidor más allá
/// de un techo global: con `--max-total-queue-bytes` de 256 KiB y colas
/// por cliente de 64 MiB, los dos que dejan de leer se desconectan mucho
/// antes de llenar su propia cola. Quien lee sigue recibiéndolo todo, en
/// orden.
///
/// A cuál corta primero el techo (la cola más larga) lo prueba, sin
/// carreras, `over_the_ceiling_the_longest_queue_is_cut_first` en
/// `outbox.rs`. Aquí no se puede exigir el orden de los avisos: cada
/// cliente anuncia su propia salida desde su hilo cuando su socket se
/// cierra, y si el techo corta a los dos en la misma pasada (los dos
/// atascados hace más de un segundo), sus avisos compiten: con la máquina
/// cargada por una compilación, una corrida los recibió al revés.
#[test]
fn stuck_clients_share_one_ceiling_and_are_cut_long_before_their_own_limit() {
    let (server, _dir) = ceiling_server();
    let mut alice = server.join("alice", 1);
    let mut bob = server.join("bob", 1);
    let early = server.join("early", 1);
    let mut late = server.join("late", 1);
    alice.expect("[SERVER] Client: bob connected!");
    alice.expect("[SERVER] Client: early connected!");
    alice.expect("[SERVER] Client: late connected!");
    bob.expect("[SERVER] Client: early connected!");
    bob.expect("[SERVER] Client: late connected!");

    // `early` no lee nada; `late` lee las primeras 100 líneas y se detiene.
    let line = "m".repeat(4000);
    let mut cut = Vec::new();
    let mut sent = 0;
    // Sin el techo, cada uno solo caería tras 64 MiB (16.000 líneas); con
    // él, tras 256 KiB más lo que quepa en los búferes del kernel (unos MiB).
    while cut.len() < 2 {
        assert!(sent < 5000, "cortados a tiempo: solo {cut:?}");
        alice.send(&line);
        sent += 1;
        if sent <= 100 {
            late.expect(&format!("alice: {line}"));
        }
        loop {
            let got = bob.line();
            if got == format!("alice: {line}") {
                break;
            }
            let who = got
                .strip_prefix("[SERVER] Client: ")
                .and_then(|rest| rest.strip_suffix(" disconnected!"))
                .unwrap_or_else(|| panic!("línea inesperada: {got:?}"));
            cut.push(who.to_string());
        }
    }
    cut.sort();
    assert_eq!(cut, ["early", "late"]);
    let prefix = "[SERVER] Client: ";
    let mut on_console: Vec<String> = (0..2)
        .map(|_| server.expect_console_between(prefix, " disconnected!"))
        .collect();
    on_console.sort();
    assert_eq!(on_console, cut);
    drop((early, late));
    let mut told_alice: Vec<String> = (0..2).map(|_| alice.line()).collect();
    told_alice.sort();
    let expected: Vec<String> = cut
        .iter()
        .map(|who| format!("{prefix}{who} disconnected!"))
        .collect();
    assert_eq!(told_alice, expected);
    bob.send("sigo vivo");
    alice.expect("bob: sigo vivo");
}
