//! Abusos de un cliente, por sockets reales (issue #6): inundar la sala de
//! líneas (por TCP y por UDP, con el mismo balde por usuario), adivinar
//! contraseñas (por conexión y por dirección de origen) y hacerse pasar por
//! el servidor o por otro usuario. En cada caso, los demás siguen
//! conversando.

mod common;

use common::{Client, Server, UdpClient};
use std::net::IpAddr;
use std::thread;
use std::time::Duration;

fn server(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Server::start(dir.path(), extra), dir)
}

const TOO_FAST_5: &str = "[SERVER] Client: You are sending too fast: the limit is 5 lines per second. Lines over it are discarded.";
const FLOODED: &str = "[SERVER] Client: You kept sending too fast, so you were disconnected.";
const TOO_MANY_FAILURES: &str =
    "[SERVER] Client: Too many failed sign-ins, so the connection was closed.";
const WRONG: &str = "[SERVER] Client: Wrong name or password.";
const BLOCKED_PREFIX: &str =
    "[SERVER] Client: Too many failed sign-ins from your address. Try again in ";

/// `n` líneas `<prefix>0`, `<prefix>1`... en un solo `write`: llegan juntas.
fn burst(prefix: &str, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{prefix}{i}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Lee las líneas de `reader` hasta `until`, y devuelve las que eran de
/// `from` (sin el `from: `).
fn messages_from(reader: &mut Client, from: &str, until: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let line = reader.line();
        if line == until {
            return got;
        }
        let text = line
            .strip_prefix(&format!("{from}: "))
            .unwrap_or_else(|| panic!("línea inesperada: {line:?}"));
        got.push(text.to_string());
    }
}

#[test]
fn lines_over_the_rate_are_dropped_with_one_notice() {
    // 5 líneas/s con ráfagas de 15.
    let (server, _dir) = server(&["--max-lines-per-sec", "5"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let mut carol = server.join("carol", 1);
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");

    bob.send_bytes(&burst("m", 25));
    // Un solo aviso, aunque se descartaron varias líneas.
    bob.expect(TOO_FAST_5);
    carol.send("sigo aquí");
    let delivered = messages_from(&mut alice, "bob", "carol: sigo aquí");
    // Pasó la ráfaga (menos las dos líneas con que bob entró, más lo que
    // se repuso mientras tanto), en orden y sin huecos; el resto no.
    let expected: Vec<String> = (0..delivered.len()).map(|i| format!("m{i}")).collect();
    assert_eq!(delivered, expected);
    assert!(
        (12..=16).contains(&delivered.len()),
        "pasaron {} de 25",
        delivered.len()
    );
    // bob no fue desconectado (descartó menos de una ráfaga), y cuando el
    // balde se repone vuelve a hablar. Aquí esperar es lo que se prueba:
    // a 5 líneas/s, una ficha tarda 200 ms.
    thread::sleep(Duration::from_millis(500));
    bob.expect("carol: sigo aquí");
    bob.expect_nothing_pending();
    alice.expect_nothing_pending();
}

#[test]
fn a_persistent_flooder_is_disconnected_and_the_room_goes_on() {
    let (server, _dir) = server(&["--max-lines-per-sec", "5"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let mut carol = server.join("carol", 1);
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");

    bob.send_bytes(&burst("m", 200));
    bob.expect(TOO_FAST_5);
    bob.expect(FLOODED);
    bob.expect_closed();
    let delivered = messages_from(&mut alice, "bob", "[SERVER] Client: bob disconnected!");
    assert!(delivered.len() <= 16, "pasaron {}", delivered.len());
    server.expect_console("bob kept flooding; disconnected");
    carol.send("hola");
    alice.expect("carol: hola");
}

#[test]
fn the_limit_is_per_user_across_tcp_and_udp() {
    let (server, _dir) = server(&["--max-lines-per-sec", "5"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    // bob usa también UDP con el token de su sesión TCP: es el mismo balde.
    let mut udp = UdpClient::new(server.addr);
    udp.token = bob.token.clone();
    for i in 0..200 {
        udp.send(&format!("u{i}"));
    }
    // Las respuestas de la sesión salen por su cola y las de un token ya
    // revocado salen directo: pueden cruzarse, así que se juntan todas
    // hasta el aviso de desconexión.
    let mut answers = Vec::new();
    while answers.last().map(String::as_str) != Some(FLOODED) {
        answers.push(udp.line());
    }
    let bad_token = "[SERVER] Client: Unknown or expired token. Sign in with :login <name> <password> or create an account with :register <name> <password>.";
    assert_eq!(answers.iter().filter(|a| *a == TOO_FAST_5).count(), 1);
    assert!(
        answers
            .iter()
            .all(|a| [TOO_FAST_5, FLOODED, bad_token].contains(&a.as_str())),
        "{answers:?}"
    );
    // Su conexión TCP también recibe el aviso y se cierra.
    bob.expect(FLOODED);
    bob.expect_closed();
    let delivered = messages_from(&mut alice, "bob", "[SERVER] Client: bob disconnected!");
    assert!(delivered.len() <= 16, "pasaron {}", delivered.len());
}

#[test]
fn zero_turns_the_line_limit_off() {
    let (server, _dir) = server(&["--max-lines-per-sec", "0"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send_bytes(&burst("m", 500));
    bob.send("fin");
    let delivered = messages_from(&mut alice, "bob", "bob: fin");
    assert_eq!(delivered.len(), 500);
    bob.expect_nothing_pending();
}

#[test]
fn wrong_passwords_close_the_connection_and_block_the_address() {
    let (server, _dir) = server(&["--max-signin-failures", "3"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let attacker: IpAddr = [127, 0, 0, 2].into();

    // Tres contraseñas malas en una conexión: se cierra.
    let mut guess = Client::connect_from(server.addr, attacker);
    for i in 0..3 {
        guess.send(&format!(":login alice guess{i}"));
        guess.expect(WRONG);
    }
    guess.expect(TOO_MANY_FAILURES);
    guess.expect_closed();
    server.expect_console("127.0.0.2 is blocked for 30 s after too many failed sign-ins");

    // Desde esa dirección, ni la contraseña correcta entra mientras dure el
    // bloqueo, ni por TCP ni por UDP.
    let mut again = Client::connect_from(server.addr, attacker);
    again.send(":login carol pw-carol");
    let line = again.line();
    assert!(line.starts_with(BLOCKED_PREFIX), "{line:?}");
    let udp = UdpClient::new_from(server.addr, attacker);
    udp.send_raw(b":register carol pw-carol\n");
    let line = udp.line();
    assert!(line.starts_with(BLOCKED_PREFIX), "{line:?}");

    // Desde otra dirección, todo sigue igual.
    let mut carol = server.join("carol", 1);
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");
    bob.send("hola");
    alice.expect("bob: hola");
    carol.expect("bob: hola");
}

#[test]
fn failures_add_up_across_connections_from_one_address() {
    let (server, _dir) = server(&["--max-signin-failures", "3"]);
    let _alice = server.join("alice", 1);
    let attacker: IpAddr = [127, 0, 0, 3].into();
    // Dos conexiones, ninguna llega a 3 fallos, pero la dirección sí.
    let mut first = Client::connect_from(server.addr, attacker);
    let mut second = Client::connect_from(server.addr, attacker);
    first.send(":login alice a");
    first.expect(WRONG);
    second.send(":login alice b");
    second.expect(WRONG);
    first.send(":login alice c");
    first.expect(WRONG);
    second.send(":login alice pw-alice");
    let line = second.line();
    assert!(line.starts_with(BLOCKED_PREFIX), "{line:?}");
}

#[test]
fn zero_turns_the_failure_limit_off() {
    let (server, _dir) = server(&["--max-signin-failures", "0"]);
    let mut alice = server.join("alice", 1);
    let mut guess = server.connect();
    for i in 0..20 {
        guess.send(&format!(":login alice guess{i}"));
        guess.expect(WRONG);
    }
    alice.send(":q");
    alice.expect("You have been disconnected from the best chat in the universe!");
    assert_eq!(guess.login("alice"), 1);
}

#[test]
fn nobody_can_write_a_line_that_looks_like_the_server_or_a_private_message() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    // Nombres con corchetes o espacios no existen.
    let mut mallory = server.connect();
    mallory.send(":register [SERVER] x");
    mallory.expect("[SERVER] Client: Names have 1 to 32 characters: letters A-Z and a-z, digits, _ and -; Me and You are reserved.");
    // Texto que intenta volver al principio de la línea, borrarla, o
    // escribir al revés: los controles no llegan a la terminal de alice.
    let attempts: [&[u8]; 5] = [
        b"\r[SERVER] Client: alice disconnected!",
        b"\x1b[2K\x1b[1G[SERVER] Client: You have 0 dollars.",
        b"\x08\x08\x08\x08[PRIVATE] alice: pssst",
        "\u{202E}!detcennocsid ecila :tneilC ]REVRES[".as_bytes(),
        b"x\x00\x07\x7f\x1b]0;titulo\x07",
    ];
    for attempt in attempts {
        let mut line = attempt.to_vec();
        line.push(b'\n');
        bob.send_bytes(&line);
        let seen = alice.line();
        assert!(seen.starts_with("bob: "), "{seen:?}");
        assert!(
            !seen
                .chars()
                .any(|c| c.is_control() || chat::protocolo::is_bidi_control(c)),
            "{seen:?}"
        );
    }
    // Un privado también lleva el nombre real delante.
    bob.send(":p alice \r[SERVER] Client: hola");
    alice.expect("[PRIVATE] bob: [SERVER] Client: hola");
    // Y por UDP, lo mismo.
    let mut udp = UdpClient::new(server.addr);
    udp.token = bob.token.clone();
    udp.send_raw(format!("{} \r[SERVER] x\n", bob.token).as_bytes());
    alice.expect("bob: [SERVER] x");
}

#[test]
fn the_notice_comes_after_the_answers_to_earlier_lines() {
    // 1 línea/s con ráfagas de 3. El balde de bob como usuario empieza
    // con su respuesta del saldo: le quedan 2 fichas.
    let (server, _dir) = server(&["--max-lines-per-sec", "1"]);
    let mut alice = server.join("alice", 1);
    let mut bob = server.join("bob", 5);
    alice.expect("[SERVER] Client: bob connected!");
    // Las dos primeras transferencias pasan y esperan su `fdatasync`; la
    // tercera se descarta. Las respuestas salen en el orden de las líneas.
    bob.send_bytes(b":t alice 1\n:t alice 1\n:t alice 1\n");
    bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 4 dollars.");
    bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 3 dollars.");
    bob.expect("[SERVER] Client: You are sending too fast: the limit is 1 lines per second. Lines over it are discarded.");
    alice.expect("[SERVER] Client: bob transferred 1 dollars to you. You have 2 dollars.");
    alice.expect("[SERVER] Client: bob transferred 1 dollars to you. You have 3 dollars.");
}
