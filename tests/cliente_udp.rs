//! El cliente y UDP (issue #16): el modo `--udp` mantiene viva la sesión
//! de quien solo lee, se rinde con un error claro si nadie responde, y en
//! modo TCP lo enviado por UDP llega antes que el `:q` que va por TCP.

mod common;

use common::{Running, Server};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `cliente --addr ADDR` (modo TCP) con `script` entero en la entrada.
fn run_script(addr: &str, script: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--addr", addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(script.as_bytes())?;
            drop(stdin);
            child.wait_with_output()
        })
        .expect("cliente")
}

#[test]
fn the_keepalive_keeps_a_reading_udp_user_signed_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--udp-idle-secs", "2"]);
    let addr = server.addr.to_string();
    let mut bob = server.join("bob", 10);
    let mut ana = Running::start(&["--udp", "--addr", &addr, "--udp-keepalive-secs", "0.5"]);
    ana.send(":register ana clave\n5\n");
    bob.expect("[SERVER] Client: ana connected!");
    // eva no envía mantenimiento en este rato: es el testigo de que la
    // inactividad sí cierra sesiones.
    let mut eva = Running::start(&["--udp", "--addr", &addr, "--udp-keepalive-secs", "1000"]);
    eva.send(":register eva clave\n5\n");
    bob.expect("[SERVER] Client: eva connected!");
    bob.expect("[SERVER] Client: eva disconnected!");
    // eva ya pasó más de 2 s callada; ana lleva lo mismo solo leyendo.
    bob.send("¿siguen ahí?");
    ana.expect("bob: ¿siguen ahí?");
    assert!(
        !server
            .console_so_far()
            .iter()
            .any(|l| l.contains("ana disconnected")),
        "ana fue dada por inactiva"
    );
    drop(ana.stdin.take());
    bob.expect("[SERVER] Client: ana disconnected!");
    let status = ana.child.wait().expect("esperar");
    assert!(status.success(), "{status:?}");
    drop(eva.stdin.take());
    let _ = eva.child.wait();
}

#[test]
fn the_udp_client_gives_up_when_no_server_answers() {
    // Un puerto con un socket que nunca responde, y uno sin nadie.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("puerto libre");
    let silent_addr = silent.local_addr().expect("addr");
    for addr in [silent_addr, closed] {
        let started = Instant::now();
        let mut cliente = Running::start(&["--udp", "--addr", &addr.to_string()]);
        // La entrada queda abierta: es el cliente el que debe rendirse.
        cliente.send(":login ana clave\n");
        let output = cliente.child.wait_with_output().expect("esperar");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{addr}: {stderr}");
        assert!(stderr.contains("The server did not answer."), "{stderr}");
        // Al que calla se le repite la línea, avisando; al puerto cerrado
        // no: el sistema ya dijo que nadie escucha.
        // La salida la leyó el hilo de `Running`: se juntan sus líneas.
        let stdout: Vec<String> = cliente.lines.iter().collect();
        let stdout = stdout.join("\n");
        assert_eq!(
            stdout.contains("Sending it again (3/3)."),
            addr == silent_addr,
            "{addr}: {stdout}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "tardó {:?}",
            started.elapsed()
        );
    }
    drop(silent);
}

#[test]
fn lines_sent_by_udp_arrive_before_the_tcp_goodbye() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);
    let script = ":register ana clave\n10\n:udp\nuno\ndos\ntres\n:funds\n";
    let output = run_script(&server.addr.to_string(), script);
    bob.expect("[SERVER] Client: ana connected!");
    for line in ["ana: uno", "ana: dos", "ana: tres"] {
        bob.expect(line);
    }
    bob.expect("[SERVER] Client: ana disconnected!");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let funds = stdout.find("You have 10 dollars.");
    let goodbye = stdout.find("You have been disconnected");
    assert!(
        matches!((funds, goodbye), (Some(f), Some(g)) if f < g),
        "la respuesta de :funds por UDP llega antes de la despedida:\n{stdout}"
    );
}

/// Un servidor en `0.0.0.0` responde por UDP desde la dirección que elige
/// la ruta (aquí `127.0.0.1`), no desde la que usó el cliente
/// (`127.0.0.2`): el socket UDP conectado del cliente descarta esa
/// respuesta. El cliente no puede arreglarlo, pero lo dice.
#[test]
fn a_server_that_answers_udp_from_another_address_is_announced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_at("0.0.0.0:0", dir.path(), &[]);
    let addr = format!("127.0.0.2:{}", server.addr.port());
    let output = run_script(&addr, ":register ana clave\n10\n:udp\nhola\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("The server has not answered by UDP: lines sent by UDP may be lost."),
        "{stdout}"
    );
}
