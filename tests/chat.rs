//! El chat de punta a punta sobre sockets reales: entrar, conversar,
//! privados, usuarios, emojis, banco y salida, con cada error del contrato.

mod common;

use common::{Client, Server};
use std::net::TcpListener;

fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Server::start(dir.path(), &[]), dir)
}

/// El mínimo del enunciado: seis clientes a la vez, cada uno con su nombre,
/// cada mensaje a los otros cinco y a la consola, nunca de vuelta al emisor.
#[test]
fn six_clients_share_one_room() {
    let (server, _dir) = server();
    let mut clients: Vec<Client> = Vec::new();
    for i in 0..6 {
        let name = format!("user{i}");
        let client = server.join(&name, 100);
        for earlier in &mut clients {
            earlier.expect(&format!("[SERVER] Client: {name} connected!"));
        }
        server.expect_console(&format!("[SERVER] Client: {name} connected!"));
        clients.push(client);
    }
    for i in 0..6 {
        clients[i].send(&format!("hola desde {i}, con ñ y acentos: á"));
        let expected = format!("user{i}: hola desde {i}, con ñ y acentos: á");
        for (j, other) in clients.iter_mut().enumerate() {
            if j != i {
                other.expect(&expected);
            }
        }
        server.expect_console(&expected);
    }
    for client in &mut clients {
        client.expect_nothing_pending();
    }
    clients[5].send(":u");
    clients[5].expect("[SERVER] Client: Connected users: user0, user1, user2, user3, user4, user5");
}

#[test]
fn signing_in_and_its_errors() {
    let (server, _dir) = server();
    let mut alice = server.join("Alice", 50_000);
    let mut other = server.connect();
    let long_password = format!(":register bob {}", "p".repeat(129));
    let refusals = [
        (
            "hola",
            "[SERVER] Client: You are not signed in. Sign in with :login <name> <password> or create an account with :register <name> <password>.",
        ),
        (
            ":funds",
            "[SERVER] Client: You are not signed in. Sign in with :login <name> <password> or create an account with :register <name> <password>.",
        ),
        (
            ":register alice x",
            "[SERVER] Client: The name alice is already taken.",
        ),
        (
            ":register b@d x",
            "[SERVER] Client: Names have 1 to 32 characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), digits, _ and -; Me and You are reserved.",
        ),
        (
            ":register Me x",
            "[SERVER] Client: Names have 1 to 32 characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), digits, _ and -; Me and You are reserved.",
        ),
        (
            ":register bob",
            "[SERVER] Client: Usage: :register <name> <password>",
        ),
        (
            ":register bob pw extra",
            "[SERVER] Client: Usage: :register <name> <password>",
        ),
        (
            &long_password,
            "[SERVER] Client: Passwords have 1 to 128 bytes and no spaces.",
        ),
        (
            ":login alice wrong",
            "[SERVER] Client: Wrong name or password.",
        ),
        (
            ":login nobody pw",
            "[SERVER] Client: Wrong name or password.",
        ),
        (
            ":login ALICE pw-alice",
            "[SERVER] Client: Alice is already connected.",
        ),
        (
            ":nope",
            "[SERVER] Client: Unknown command :nope. Type :help to see the commands.",
        ),
    ];
    for (line, answer) in refusals {
        other.send(line);
        other.expect(answer);
    }
    // La misma conexión sigue sirviendo para crear una cuenta.
    other.send(":register bob pw-bob");
    other.expect_welcome();
    other.expect("[SERVER] Client: What is your balance?");
    for bad in ["-5", "50.000", "mucho", "18446744073709551616"] {
        other.send(bad);
        other.expect("[SERVER] Client: Your balance must be a whole number of dollars, 0 or more (for example 50000).");
        other.expect("[SERVER] Client: What is your balance?");
    }
    alice.expect_nothing_pending();
    other.send("3000");
    other.expect("[SERVER] Client: The balance of 3000 has been set to your account.");
    alice.expect("[SERVER] Client: bob connected!");
    other.send(":login Alice pw-alice");
    other.expect("[SERVER] Client: You are already signed in as bob.");
}

#[test]
fn login_brings_back_the_balance_without_asking() {
    let (server, _dir) = server();
    let mut carol = server.join("carol", 1234);
    carol.send(":q");
    carol.expect("You have been disconnected from the best chat in the universe!");
    let mut again = server.connect();
    assert_eq!(again.login("CAROL"), 1234);
    again.expect_nothing_pending();
}

#[test]
fn private_messages_users_emojis_and_help() {
    let (server, _dir) = server();
    let mut alice = server.join("alice", 10);
    let mut bob = server.join("bob", 10);
    let mut carol = server.join("carol", 10);
    alice.expect("[SERVER] Client: bob connected!");
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");

    alice.send(":p - bob - nos vemos a las 5");
    bob.expect("[PRIVATE] alice: nos vemos a las 5");
    alice.send(":p BOB :smile gracias");
    bob.expect("[PRIVATE] alice: :~) gracias");
    alice.send(":p - dave - hola");
    alice.expect("[SERVER] Client: dave is not connected.");
    alice.send(":p bob");
    alice.expect("[SERVER] Client: Usage: :p <user> <message>");
    carol.expect_nothing_pending();

    bob.send(":smile");
    alice.expect("bob: :~)");
    carol.expect("bob: :~)");
    bob.send(":angry no :confused entiendo :smiley");
    alice.expect("bob: >:( no :S entiendo :smiley");
    carol.expect("bob: >:( no :S entiendo :smiley");
    server.expect_console("bob: >:( no :S entiendo :smiley");

    carol.send(":u");
    carol.expect("[SERVER] Client: Connected users: alice, bob, carol");
    carol.send(":help");
    let help = carol.line();
    for command in [
        ":p",
        ":u",
        ":funds",
        ":t",
        ":smile",
        ":angry",
        ":confused",
        ":help",
        ":q",
    ] {
        assert!(help.contains(command), "{help}");
    }
    carol.send(":xyz");
    carol.expect("[SERVER] Client: Unknown command :xyz. Type :help to see the commands.");
    alice.expect_nothing_pending();
    bob.expect_nothing_pending();
}

#[test]
fn transfers_and_their_errors() {
    let (server, _dir) = server();
    let mut alice = server.join("alice", 3000);
    let mut bob = server.join("bob", 500);
    alice.expect("[SERVER] Client: bob connected!");

    alice.send(":t - bob - 100");
    alice.expect("[SERVER] Client: You transferred 100 dollars to bob. You have 2900 dollars.");
    bob.expect("[SERVER] Client: alice transferred 100 dollars to you. You have 600 dollars.");
    bob.send(":t alice 600");
    bob.expect("[SERVER] Client: You transferred 600 dollars to alice. You have 0 dollars.");
    alice.expect("[SERVER] Client: bob transferred 600 dollars to you. You have 3500 dollars.");

    let refusals = [
        (
            ":t - bob - 10000",
            "[SERVER] Client: You don't have sufficient funds for the transaction.",
        ),
        (
            ":t bob 3501",
            "[SERVER] Client: You don't have sufficient funds for the transaction.",
        ),
        (
            ":t dave 1",
            "[SERVER] Client: There is no account named dave.",
        ),
        (
            ":t alice 1",
            "[SERVER] Client: You cannot transfer money to yourself.",
        ),
        (
            ":t bob 0",
            "[SERVER] Client: The amount must be a whole number of dollars from 1 to 18446744073709551615.",
        ),
        (
            ":t bob -5",
            "[SERVER] Client: The amount must be a whole number of dollars from 1 to 18446744073709551615.",
        ),
        (
            ":t bob diez",
            "[SERVER] Client: The amount must be a whole number of dollars from 1 to 18446744073709551615.",
        ),
        (":t bob", "[SERVER] Client: Usage: :t <user> <amount>"),
    ];
    for (line, answer) in refusals {
        alice.send(line);
        alice.expect(answer);
    }
    assert_eq!(alice.funds(), 3500);
    assert_eq!(bob.funds(), 0);
    bob.expect_nothing_pending();

    // El destinatario solo necesita una cuenta, no una conexión.
    let mut rich = server.join("rich", u64::MAX);
    rich.send(":t alice 1");
    rich.expect(&format!(
        "[SERVER] Client: You transferred 1 dollars to alice. You have {} dollars.",
        u64::MAX - 1
    ));
    alice.expect("[SERVER] Client: rich connected!");
    alice.expect("[SERVER] Client: rich transferred 1 dollars to you. You have 3501 dollars.");
    alice.send(":t rich 3501");
    alice.expect("[SERVER] Client: rich's balance cannot hold that amount.");
    bob.expect("[SERVER] Client: rich connected!");
    bob.send(":q");
    bob.expect("You have been disconnected from the best chat in the universe!");
    alice.expect("[SERVER] Client: bob disconnected!");
    alice.send(":t bob 1000");
    alice.expect("[SERVER] Client: You transferred 1000 dollars to bob. You have 2501 dollars.");
    let mut bob = server.connect();
    assert_eq!(bob.login("bob"), 1000);
}

#[test]
fn leaving_with_q_or_by_dropping_notifies_everyone() {
    let (server, _dir) = server();
    let mut alice = server.join("alice", 1);
    let mut bob = server.join("bob", 1);
    let carol = server.join("carol", 1);
    alice.expect("[SERVER] Client: bob connected!");
    alice.expect("[SERVER] Client: carol connected!");
    bob.expect("[SERVER] Client: carol connected!");

    bob.send(":q");
    bob.expect("You have been disconnected from the best chat in the universe!");
    bob.expect_closed();
    alice.expect("[SERVER] Client: bob disconnected!");
    server.expect_console("[SERVER] Client: bob disconnected!");

    carol.drop_connection();
    alice.expect("[SERVER] Client: carol disconnected!");
    server.expect_console("[SERVER] Client: carol disconnected!");
    alice.send(":u");
    alice.expect("[SERVER] Client: Connected users: alice");

    // Quien sale antes de entrar no genera avisos.
    let mut shy = server.connect();
    shy.send(":q");
    shy.expect("You have been disconnected from the best chat in the universe!");
    shy.expect_closed();
    alice.expect_nothing_pending();
}

/// Una cuenta que se creó pero se fue sin declarar saldo: no puede recibir
/// dinero, y al volver se le pregunta el saldo.
#[test]
fn an_account_without_balance_is_asked_again() {
    let (server, _dir) = server();
    let mut alice = server.join("alice", 100);
    let mut dave = server.connect();
    dave.send(":register dave pw-dave");
    dave.expect_welcome();
    dave.expect("[SERVER] Client: What is your balance?");
    dave.send(":q");
    dave.expect("You have been disconnected from the best chat in the universe!");
    alice.send(":t dave 5");
    alice.expect("[SERVER] Client: dave has not set a balance yet.");
    let mut dave = server.connect();
    dave.send(":login dave pw-dave");
    dave.expect_welcome();
    dave.expect("[SERVER] Client: What is your balance?");
    dave.send("70");
    dave.expect("[SERVER] Client: The balance of 70 has been set to your account.");
    alice.expect("[SERVER] Client: dave connected!");
}

#[test]
fn works_over_ipv6_when_the_machine_has_it() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("sin IPv6 en esta máquina: se omite");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_at("[::1]:0", dir.path(), &[]);
    assert!(server.addr.is_ipv6());
    let mut alice = server.join("alice", 5);
    let mut bob = server.join("bob", 5);
    alice.expect("[SERVER] Client: bob connected!");
    bob.send("hola por IPv6");
    alice.expect("bob: hola por IPv6");
}

/// Nombres con las letras del castellano, y (en el programa completo)
/// nombres que se confunden con otro rechazados sin decir con cuál. El
/// aviso de entrada y la lista de usuarios llevan el nombre tal como se
/// registró.
#[test]
fn spanish_names_are_welcome_and_look_alikes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--max-signin-failures", "0"]);
    let mut alice = server.join("alice", 1);
    let mut jose = server.join("José", 10);
    alice.expect("[SERVER] Client: José connected!");
    let _begona = server.join("Begoña", 5);
    alice.expect("[SERVER] Client: Begoña connected!");
    jose.expect("[SERVER] Client: Begoña connected!");
    alice.send(":u");
    alice.expect("[SERVER] Client: Connected users: alice, Begoña, José");
    alice.send(":t josé 1");
    alice.expect("[SERVER] Client: You transferred 1 dollars to José. You have 0 dollars.");
    jose.expect("[SERVER] Client: alice transferred 1 dollars to you. You have 11 dollars.");
    let mut mallory = server.connect();
    #[cfg(feature = "extra")]
    for (name, answer) in [
        (
            "Jose",
            "[SERVER] Client: The name Jose is too similar to an existing one. Choose another.",
        ),
        (
            "aIice",
            "[SERVER] Client: The name aIice is too similar to an existing one. Choose another.",
        ),
        (
            "a1ice",
            "[SERVER] Client: The name a1ice is too similar to an existing one. Choose another.",
        ),
        (
            "begona",
            "[SERVER] Client: The name begona is too similar to an existing one. Choose another.",
        ),
    ] {
        mallory.send(&format!(":register {name} pw"));
        mallory.expect(answer);
    }
    for (name, answer) in [
        ("JOSÉ", "[SERVER] Client: The name JOSÉ is already taken."),
        (
            "Jose\u{301}",
            "[SERVER] Client: Names have 1 to 32 characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), digits, _ and -; Me and You are reserved.",
        ),
    ] {
        mallory.send(&format!(":register {name} pw"));
        mallory.expect(answer);
    }
    mallory.register("Ramón", 3);
    // Tras reiniciar, los nombres siguen ahí con su escritura.
    drop((alice, jose, mallory, _begona, server));
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.connect().login("JOSÉ"), 11);
    assert_eq!(server.connect().login("ramón"), 3);
}

/// Un nombre que se lee como parte del protocolo (`-`, `SERVER`, `PRIVATE`)
/// ya no se registra, con la razón; una cuenta vieja que se llama así (de
/// antes de la regla, aquí escrita en el diario a mano) sigue entrando.
#[test]
fn names_that_read_as_protocol_are_refused_but_old_accounts_still_sign_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let mut mallory = server.connect();
    let mut refused = vec![
        (
            "-",
            "[SERVER] Client: Names have 1 to 32 characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), digits, _ and -; Me and You are reserved.",
        ),
        (
            "_x",
            "[SERVER] Client: Names have 1 to 32 characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), digits, _ and -; Me and You are reserved.",
        ),
    ];
    // Las palabras del protocolo las rechaza el programa completo.
    if cfg!(feature = "extra") {
        refused.extend([
        (
            "SERVER",
            "[SERVER] Client: The name SERVER is reserved: the chat prints it in its own lines. Choose another.",
        ),
        (
            "private",
            "[SERVER] Client: The name private is reserved: the chat prints it in its own lines. Choose another.",
        ),
        (
            "Client",
            "[SERVER] Client: The name Client is reserved: the chat prints it in its own lines. Choose another.",
        ),
    ]);
    }
    for (name, answer) in refused {
        mallory.send(&format!(":register {name} pw"));
        mallory.expect(answer);
    }
    // Una cuenta `zz` que, en el diario, pasa a llamarse `-`: como una de
    // antes de la regla.
    server.join("zz", 9);
    server.kill();
    let journal = dir.path().join("diario.jsonl");
    let text = std::fs::read_to_string(&journal).expect("diario");
    std::fs::write(&journal, text.replace("\"zz\"", "\"-\"")).expect("diario");
    let server = Server::start(dir.path(), &[]);
    let mut old = server.connect();
    old.name = "-".into();
    old.send(":login - pw-zz");
    old.expect_welcome();
    old.expect("[SERVER] Client: You have 9 dollars.");
}

/// Con `--addr 127.0.0.1:0`, el kernel elige el puerto TCP y el servidor
/// escucha UDP en el mismo número, que puede estar ocupado en UDP (los
/// puertos TCP y UDP son espacios distintos): entonces prueba con otro. Con
/// un tercio de los puertos efímeros UDP de `127.0.0.1` ocupados, cada
/// arranque chocaba una vez de cada tres, y los veinte arranques fallaban
/// casi siempre en alguno (`Address already in use`).
#[test]
fn port_zero_finds_a_number_free_for_both_tcp_and_udp() {
    let held: Vec<std::net::UdpSocket> = (0..9000)
        .map_while(|_| std::net::UdpSocket::bind("127.0.0.1:0").ok())
        .collect();
    assert!(held.len() > 5000, "solo {} sockets UDP", held.len());
    for _ in 0..20 {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Server::launch("127.0.0.1:0", dir.path(), &[], None);
        if let Err((code, stderr)) = started {
            panic!(
                "con {} puertos UDP ocupados, el servidor terminó ({code:?}): {stderr}",
                held.len()
            );
        }
    }
}
