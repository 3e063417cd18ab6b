//! El binario `cliente` manejado por una tubería, como en un guion: entra,
//! conversa, transfiere y, al terminar la entrada, sale como con `:q`.

mod common;

use common::Server;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn the_terminal_client_can_be_scripted_through_a_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);

    let mut cliente = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--addr", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cliente");
    let script = ":register alice s3cret\nmucho\n50000\nhola :smile\n:p bob psst\n\
                  :t bob 100\n:t bob 99999999\n:funds\n";
    cliente
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    // Al soltar stdin la entrada termina: el cliente debe enviar :q solo.

    bob.expect("[SERVER] Client: alice connected!");
    bob.expect("alice: hola :~)");
    bob.expect("[PRIVATE] alice: psst");
    bob.expect("[SERVER] Client: alice transferred 100 dollars to you. You have 110 dollars.");
    bob.expect("[SERVER] Client: alice disconnected!");

    let output = cliente.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let me = lines
        .iter()
        .find(|l| l.starts_with("You are alice, from 127.0.0.1:"))
        .unwrap_or_else(|| panic!("no muestra quién es: {stdout}"));
    assert!(
        me.ends_with(&format!("connected to the server at {}.", server.addr)),
        "{me}"
    );
    let expected_in_order = [
        "Welcome to the best chat in the universe!",
        "[SERVER] Client: What is your balance?",
        "[SERVER] Client: Your balance must be a whole number of dollars, 0 or more (for example 50000).",
        "[SERVER] Client: What is your balance?",
        "[SERVER] Client: The balance of 50000 has been set to your account.",
        "Me: hola :~)",
        "[SERVER] Client: You transferred 100 dollars to bob. You have 49900 dollars.",
        "[SERVER] Client: You don't have sufficient funds for the transaction.",
        "[SERVER] Client: You have 49900 dollars.",
        "You have been disconnected from the best chat in the universe!",
    ];
    let mut position = 0;
    for expected in expected_in_order {
        let found = lines[position..]
            .iter()
            .position(|l| *l == expected)
            .unwrap_or_else(|| panic!("falta {expected:?} (en orden) en:\n{stdout}"));
        position += found + 1;
    }
    assert!(
        !stdout.contains("s3cret"),
        "la contraseña no se muestra: {stdout}"
    );
    assert!(
        !stdout.contains("token is"),
        "el token no se muestra: {stdout}"
    );
}

#[test]
fn the_client_reports_a_server_that_is_not_there() {
    // Un puerto que acaba de quedar libre: nadie escucha en él.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("cliente");
    assert_eq!(output.status.code(), Some(3), "3: no hay servidor");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot talk to"));
}

/// `cliente --udp` (enunciado 000): entra, conversa y transfiere por
/// datagramas con un usuario TCP, y al terminar la entrada sale con `:q`.
#[test]
fn the_udp_client_chats_with_tcp_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);
    let mut cliente = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--udp", "--addr", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cliente --udp");
    cliente
        .stdin
        .take()
        .expect("stdin")
        .write_all(b":register alice s3cret\n50000\nhola :smile\n:t bob 100\n")
        .expect("write");
    bob.expect("[SERVER] Client: alice connected!");
    bob.expect("alice: hola :~)");
    bob.expect("[SERVER] Client: alice transferred 100 dollars to you. You have 110 dollars.");
    bob.expect("[SERVER] Client: alice disconnected!");
    let output = cliente.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        !stdout.contains("token is"),
        "el token no se muestra: {stdout}"
    );
    for expected in [
        "You are alice, from 127.0.0.1:",
        "[SERVER] Client: The balance of 50000 has been set to your account.",
        "Me: hola :~)",
        "[SERVER] Client: You transferred 100 dollars to bob. You have 49900 dollars.",
        "You have been disconnected from the best chat in the universe!",
    ] {
        assert!(
            stdout.contains(expected),
            "falta {expected:?} en:\n{stdout}"
        );
    }
}

/// El cliente TCP elige por dónde viajan sus líneas con `:udp` y `:tcp`
/// (enunciado 001); bob, con conexión TCP y dirección UDP, las recibe por
/// el mismo transporte por el que llegaron.
#[test]
fn the_tcp_client_sends_chosen_lines_by_udp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);
    let mut bob_udp = common::UdpClient::new(server.addr);
    bob_udp.adopt(&bob.token);

    let mut cliente = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--addr", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cliente");
    let mut stdin = cliente.stdin.take().expect("stdin");
    stdin
        .write_all(b":register alice pw\n10\npor tcp\n:udp\npor udp\n")
        .expect("write");
    bob.expect("[SERVER] Client: alice connected!");
    bob.expect("alice: por tcp");
    bob_udp.expect("alice: por udp");
    stdin.write_all(b":tcp\notra vez por tcp\n").expect("write");
    bob.expect("alice: otra vez por tcp");
    drop(stdin);
    bob.expect("[SERVER] Client: alice disconnected!");
    bob_udp.expect_nothing_pending();

    let output = cliente.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        !stdout.contains("token is"),
        "el token no se muestra: {stdout}"
    );
    for expected in [
        "Your TCP port is ",
        "Your lines now travel by UDP.",
        "Your lines now travel by TCP.",
        "Me: por udp",
    ] {
        assert!(
            stdout.contains(expected),
            "falta {expected:?} en:\n{stdout}"
        );
    }
}

/// Un "servidor" que no es el chat envía una línea de 4 MiB y después un
/// aviso normal: el cliente descarta la enorme (no la guarda ni la muestra)
/// y sigue mostrando lo que llega después.
#[test]
fn a_huge_line_from_the_server_is_dropped_not_kept() {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut huge = vec![b'x'; 4 << 20];
        huge.push(b'\n');
        stream.write_all(&huge).expect("línea enorme");
        stream
            .write_all(b"[SERVER] Client: The server is shutting down.\n")
            .expect("aviso");
        // Espera a que el cliente envíe algo (su :q al terminar la entrada)
        // antes de cerrar, para que el aviso no se pierda con el cierre.
        let mut line = String::new();
        let _ = BufReader::new(&stream).read_line(&mut line);
    });
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--addr", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("cliente");
    fake.join().expect("servidor falso");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("The server is shutting down."),
        "lo que sigue a la línea enorme se muestra: {stdout:.300}"
    );
    assert!(
        !stdout.contains("xxxxxxxx"),
        "la línea enorme no se muestra ({} bytes de salida)",
        stdout.len()
    );
}
