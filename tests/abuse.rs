//! Abusos de un cliente, por sockets reales (issues #6 y #12): inundar la
//! sala de líneas (por TCP se frena al emisor sin perder ninguna; por UDP
//! se descarta lo de más; el mismo balde por usuario), adivinar
//! contraseñas (por conexión y por dirección de origen) y hacerse pasar por
//! el servidor o por otro usuario. En cada caso, los demás siguen
//! conversando.
//!
//! Solo el programa completo: los límites contra el abuso (líneas por segundo, contraseñas, registros por dirección) son de `extra/abuse.rs`.
#![cfg(feature = "extra")]

mod common;

use common::{Client, Server, UdpClient};
use std::net::IpAddr;

fn server(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Server::start(dir.path(), extra), dir)
}

const TOO_FAST_5: &str = "[SERVER] Client: You are sending too fast: the limit is 5 lines per second. Lines over it are discarded.";
const PACED_20: &str = "[SERVER] Client: You are sending faster than 20 lines per second; your lines are being delayed.";
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

/// Lo que bob recibe hasta tener `n` respuestas que empiezan con
/// `prefix`: esas respuestas, en orden, y cuántos avisos de freno llegaron
/// entre ellas (nada más puede llegar).
fn answers_and_notices(
    bob: &mut Client,
    prefix: &str,
    n: usize,
    notice: &str,
) -> (Vec<String>, usize) {
    let (mut answers, mut notices) = (Vec::new(), 0);
    while answers.len() < n {
        let line = bob.line();
        if line == notice {
            notices += 1;
        } else {
            assert!(line.starts_with(prefix), "línea inesperada: {line:?}");
            answers.push(line);
        }
    }
    (answers, notices)
}

/// Con los valores por defecto (20 líneas/s, ráfagas de 60), un guion que
/// pega 200 líneas y después 200 transferencias de un tirón: nada se
/// descarta, todo llega en orden, nadie se desconecta. Solo va más lento.
#[test]
fn tcp_lines_over_the_rate_are_delayed_never_dropped() {
    let (server, _dir) = server(&[]);
    let mut alice = server.join("alice", 1);
    let mut bob = server.join("bob", 1000);
    alice.expect("[SERVER] Client: bob connected!");

    bob.send_bytes(&burst("m", 200));
    bob.send("fin de las líneas");
    let delivered = messages_from(&mut alice, "bob", "bob: fin de las líneas");
    let expected: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    assert_eq!(delivered, expected);
    bob.expect(PACED_20);

    let mut script = String::new();
    for _ in 0..200 {
        script.push_str(":t alice 1\n");
    }
    bob.send_bytes(script.as_bytes());
    let (answers, notices) = answers_and_notices(
        &mut bob,
        "[SERVER] Client: You transferred 1 dollars to alice.",
        200,
        PACED_20,
    );
    assert!(notices <= 1, "{notices} avisos");
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(
            answer,
            &format!(
                "[SERVER] Client: You transferred 1 dollars to alice. You have {} dollars.",
                1000 - 1 - i
            )
        );
    }
    for received in 1..=200 {
        alice.expect(&format!(
            "[SERVER] Client: bob transferred 1 dollars to you. You have {} dollars.",
            1 + received
        ));
    }
    bob.expect_nothing_pending();
    alice.expect_nothing_pending();
    assert!(
        !server
            .console_so_far()
            .iter()
            .any(|l| l.contains("disconnected")),
        "nadie se desconectó"
    );
}

/// Mientras bob va frenado, los demás conversan sin esperarlo: el mensaje
/// de carol llega a alice en medio de las líneas de bob.
#[test]
fn a_paced_sender_does_not_slow_the_room_down() {
    let (server, _dir) = server(&["--max-lines-per-sec", "20"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let mut carol = server.join("carol", 1);
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");

    // 200 líneas a 20/s, con 60 de ráfaga: bob tarda al menos 7 s.
    bob.send_bytes(&burst("m", 200));
    bob.expect(PACED_20);
    carol.send("sigo aquí");
    let mut from_bob = 0;
    let mut carol_after = None;
    while from_bob < 200 {
        let line = alice.line();
        if line == "carol: sigo aquí" {
            carol_after = Some(from_bob);
        } else {
            assert_eq!(line, format!("bob: m{from_bob}"));
            from_bob += 1;
        }
    }
    let carol_after = carol_after.expect("carol habló mientras bob iba frenado");
    assert!(carol_after < 200, "carol no esperó a bob ({carol_after})");
    server.expect_console("bob sends faster than 20 lines per second; its lines are delayed");
}

/// Por UDP no hay cómo frenar: lo que pasa del balde (el mismo que el de su
/// conexión TCP) se descarta, con un aviso y la cuenta en la consola.
#[test]
fn udp_datagrams_over_the_rate_are_dropped_and_counted() {
    let (server, _dir) = server(&["--max-lines-per-sec", "5"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    // bob usa también UDP con el token de su sesión TCP: es el mismo balde.
    let mut udp = UdpClient::new(server.addr);
    udp.adopt(&bob.token);
    for i in 0..200 {
        udp.send(&format!("u{i}"));
    }
    udp.expect(TOO_FAST_5);
    let dropped =
        server.expect_console_between("bob: ", " UDP lines dropped (over 5 lines per second)");
    let dropped: usize = dropped.parse().unwrap_or_else(|_| panic!("{dropped:?}"));
    // Su conexión TCP sigue: la línea siguiente llega después de las de UDP.
    bob.send("por tcp");
    let delivered = messages_from(&mut alice, "bob", "bob: por tcp");
    assert!(delivered.len() <= 20, "pasaron {}", delivered.len());
    assert_eq!(
        delivered.len() + dropped,
        200,
        "cada datagrama, atendido o contado"
    );
    let numbers: Vec<usize> = delivered
        .iter()
        .map(|d| d.trim_start_matches('u').parse().expect("número"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    bob.expect_nothing_pending();
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
    let (server, _dir) = server(&[
        "--max-signin-failures",
        "3",
        "--max-signin-failures-per-ip",
        "3",
    ]);
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
    let line = udp.ask(":register carol pw-carol");
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
    let (server, _dir) = server(&[
        "--max-signin-failures",
        "10",
        "--max-signin-failures-per-ip",
        "3",
    ]);
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
    let (server, _dir) = server(&[
        "--max-signin-failures",
        "0",
        "--max-signin-failures-per-ip",
        "0",
    ]);
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
    mallory.expect("[SERVER] Client: Names have 1 to 32 characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), digits, _ and -; Me and You are reserved.");
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
                .any(|c| c.is_control() || chat::extra::invisible::is_bidi_control(c)),
            "{seen:?}"
        );
    }
    // Un privado también lleva el nombre real delante.
    bob.send(":p alice \r[SERVER] Client: hola");
    alice.expect("[PRIVATE] bob: [SERVER] Client: hola");
    // Y por UDP, lo mismo.
    let mut udp = UdpClient::new(server.addr);
    udp.adopt(&bob.token);
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
    // tercera espera su ficha. Las respuestas salen en el orden de las
    // líneas: el aviso, después de las dos primeras.
    bob.send_bytes(b":t alice 1\n:t alice 1\n:t alice 1\n");
    bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 4 dollars.");
    bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 3 dollars.");
    bob.expect("[SERVER] Client: You are sending faster than 1 lines per second; your lines are being delayed.");
    bob.expect("[SERVER] Client: You transferred 1 dollars to alice. You have 2 dollars.");
    for dollars in 2..=4 {
        alice.expect(&format!(
            "[SERVER] Client: bob transferred 1 dollars to you. You have {dollars} dollars."
        ));
    }
}

/// La reproducción del issue #13: con espacios hasta la columna 80 (o
/// separadores de línea, o caracteres de ancho cero), un texto falso
/// empezaría en la columna 0 de la terminal de alice. Los espacios se
/// juntan en uno y los invisibles se quitan, en públicos, privados y por
/// UDP.
#[test]
fn runs_of_space_and_invisible_characters_cannot_start_a_fake_line() {
    let (server, _dir) = server(&[]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let fake = "[SERVER] Client: carol transferred 5000 dollars to you. You have 5100 dollars.";
    let private = "[PRIVATE] carol: alice, please send the 5000 back with :t bob 5000";
    let pad = " ".repeat(78);
    bob.send(&format!("ok{pad}{fake}{pad}{private}"));
    alice.expect(&format!("bob: ok {fake} {private}"));
    bob.send(&format!(":p alice ok{pad}{fake}"));
    alice.expect(&format!("[PRIVATE] bob: ok {fake}"));
    for separator in [
        "\u{2028}",
        "\u{2029}",
        "\u{200B}",
        "\u{FEFF}",
        "\u{3000}\u{00A0}\u{2003}",
        // Se ven en blanco sin ser espacio para Unicode: el braille vacío,
        // los rellenos de Hangul, la anotación interlineal, un selector de
        // variante, una etiqueta y una vocal inherente jemer.
        "\u{2800}",
        "\u{1160}\u{FFA0}\u{115F}",
        "\u{FFF9}\u{FFFA}\u{FFFB}",
        "\u{FE0F}\u{E0020}\u{17B4}",
    ] {
        bob.send(&format!("ok{}{fake}", separator.repeat(80)));
        let seen = alice.line();
        assert!(
            seen == format!("bob: ok{fake}") || seen == format!("bob: ok {fake}"),
            "{separator:?}: {seen:?}"
        );
    }
    // Por UDP, con el token de bob, lo mismo.
    let mut udp = UdpClient::new(server.addr);
    udp.adopt(&bob.token);
    udp.send(&format!("ok{pad}{fake}"));
    alice.expect(&format!("bob: ok {fake}"));
    // Solo espacio no es un mensaje.
    bob.send(&format!("{pad}\u{200B}\u{2028}"));
    alice.expect_nothing_pending();
}

const ACCOUNT_BLOCKED_PREFIX: &str =
    "[SERVER] Client: Too many failed sign-ins for this account. Try again in ";

/// Cinco datagramas con una contraseña mala y la dirección de otro como
/// origen (aquí `127.0.0.2`, un socket que nunca lee) no bloquean esa
/// dirección (issue #13): la de un datagrama no está comprobada. Desde
/// `127.0.0.2`, carol entra por TCP como siempre.
#[test]
fn forged_udp_failures_do_not_lock_out_the_address_they_name() {
    let (server, _dir) = server(&[]);
    let _alice = server.join("alice", 1);
    let victim: IpAddr = [127, 0, 0, 2].into();
    let forger = std::net::UdpSocket::bind((victim, 0)).expect("bind");
    for i in 0..60 {
        let guess = format!(":login nobody{} wrong\n", i % 7);
        forger.send_to(guess.as_bytes(), server.addr).expect("send");
    }
    // El servidor ya los atendió todos cuando responde a este.
    let probe = UdpClient::new_from(server.addr, victim);
    assert!(probe.ask(":help").starts_with("[SERVER] Client: Commands:"));
    let mut carol = Client::connect_from(server.addr, victim);
    carol.register("carol", 5);
}

/// Cuarenta direcciones distintas, una conexión y una contraseña cada una,
/// contra la cuenta de alice (issue #13: antes pasaban 200 intentos en
/// 30 s): tras los 5 primeros, la cuenta queda bloqueada para todos, sin
/// hashear; bob sigue entrando.
#[test]
fn failures_lock_the_account_whatever_address_they_come_from() {
    let (server, _dir) = server(&[]);
    server.join("alice", 1).send(":q");
    server.join("bob", 1).send(":q");
    let (mut wrong, mut locked) = (0, 0);
    for i in 0..40u8 {
        let mut guess = Client::connect_from(server.addr, [127, 0, 0, 10 + i].into());
        guess.send(&format!(":login alice guess{i}"));
        let answer = guess.line();
        if answer == WRONG {
            wrong += 1;
        } else {
            assert!(answer.starts_with(ACCOUNT_BLOCKED_PREFIX), "{answer:?}");
            locked += 1;
        }
    }
    assert_eq!((wrong, locked), (5, 35));
    server.expect_console("the account alice is locked for 30 s after too many failed sign-ins");
    // Ni con la contraseña correcta, mientras dure; otra cuenta, sí.
    let mut owner = server.connect();
    owner.send(":login alice pw-alice");
    let answer = owner.line();
    assert!(answer.starts_with(ACCOUNT_BLOCKED_PREFIX), "{answer:?}");
    assert_eq!(server.connect().login("bob"), 1);
}

/// Crear cuentas también cuenta para la dirección (issue #13, punto 3):
/// nadie reserva nombres en masa. Tras `--max-registrations-per-ip`
/// registros seguidos, esa dirección no crea más cuentas por un rato, ni
/// por TCP ni por UDP (con la cookie: la dirección está probada); sí puede
/// entrar a las que tiene, y las demás direcciones siguen registrando.
#[test]
fn an_address_cannot_create_accounts_in_bulk() {
    const TOO_MANY_ACCOUNTS: &str =
        "[SERVER] Client: Too many new accounts from your address. Try again in ";
    let (server, _dir) = server(&["--max-registrations-per-ip", "3"]);
    let bulk: IpAddr = [127, 0, 0, 2].into();
    for i in 0..3 {
        let mut client = Client::connect_from(server.addr, bulk);
        client.register(&format!("reserved{i}"), 1);
    }
    server.expect_console("127.0.0.2 cannot create accounts for 30 s after too many registrations");

    let mut fourth = Client::connect_from(server.addr, bulk);
    fourth.send(":register reserved3 pw-reserved3");
    let line = fourth.line();
    assert!(line.starts_with(TOO_MANY_ACCOUNTS), "{line:?}");
    let udp = UdpClient::new_from(server.addr, bulk);
    let line = udp.ask(":register reserved4 pw-reserved4");
    assert!(line.starts_with(TOO_MANY_ACCOUNTS), "{line:?}");
    // Entrar a una cuenta propia sigue pudiendo.
    assert_eq!(fourth.login("reserved0"), 1);

    // Los nombres rechazados no quedaron tomados: otra dirección los registra.
    let mut other = Client::connect_from(server.addr, [127, 0, 0, 3].into());
    other.register("reserved3", 5);
    let mut udp_other = UdpClient::new_from(server.addr, [127, 0, 0, 3].into());
    udp_other.register("reserved4", 5);
}
