//! El servidor de eco (enunciado 002) por sockets reales: un mensaje partido
//! en muchas escrituras mínimas, dos mensajes en una sola escritura, UTF-8
//! partido entre lecturas, y el cliente `cliente --echo`.

mod common;

#[cfg(feature = "extra")]
use std::io::Read;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;

struct EchoServer {
    child: Child,
    addr: SocketAddr,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn echo_server() -> EchoServer {
    echo_server_with(&[], None)
}

/// `servidor --echo` con `extra`; cada línea de su consola va a `console`,
/// si se da.
fn echo_server_with(extra: &[&str], console_lines: Option<mpsc::Sender<String>>) -> EchoServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_servidor"))
        .args(["--echo", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("servidor --echo");
    let mut console = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    console.read_line(&mut first).expect("primera línea");
    let addr = first
        .trim_end()
        .strip_prefix("Listening on ")
        .and_then(|rest| rest.strip_suffix(" (echo)"))
        .unwrap_or_else(|| panic!("{first:?}"))
        .parse::<SocketAddr>()
        .expect("dirección");
    // La consola sigue escribiendo; un hilo la lee para que nunca se llene.
    thread::spawn(move || {
        let mut line = String::new();
        while console.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(to) = &console_lines {
                let _ = to.send(line.trim_end().to_string());
            }
            line.clear();
        }
    });
    EchoServer { child, addr }
}

#[cfg(feature = "extra")]
/// Conecta desde `source` (otra dirección del loopback, como otra máquina).
fn connect_from(addr: SocketAddr, source: [u8; 4]) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from((source, 0)).into())
        .expect("bind de origen");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(common::PATIENCE))
        .expect("timeout");
    stream
}

#[cfg(feature = "extra")]
/// `true` si el eco responde `hola` por `stream`.
fn echoes(stream: &mut TcpStream) -> bool {
    if stream.write_all(b"hola\n").is_err() {
        return false;
    }
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut answer = String::new();
    reader
        .read_line(&mut answer)
        .is_ok_and(|_| answer == "hola\n")
}

#[cfg(feature = "extra")]
/// `true` si el servidor cerró `stream` (la lectura da el fin, o un
/// reinicio) antes de la paciencia.
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0))
        || matches!(stream.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

/// Espera en la consola una línea que contenga `text`.
#[cfg(feature = "extra")]
fn console_shows(console: &mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = console.recv_timeout(common::PATIENCE) {
        let found = line.contains(text);
        seen.push(line);
        if found {
            return seen;
        }
    }
    panic!("la consola no mostró {text:?}; mostró {seen:#?}");
}

// Solo el programa completo: los topes del eco (`--max-clients`, `--echo-idle-secs`) son opciones del programa completo.
#[cfg(feature = "extra")]
/// Un hilo por conexión no puede ser gratis: el eco tiene los topes del
/// chat (en total y por dirección) y cierra a quien no completa una línea
/// a tiempo, aunque envíe un byte cada tanto; su lugar queda libre.
#[test]
fn the_echo_server_caps_connections_and_closes_the_ones_that_never_finish_a_line() {
    let (tx, console) = mpsc::channel();
    let server = echo_server_with(
        &[
            "--max-clients",
            "3",
            "--max-clients-per-ip",
            "2",
            "--echo-idle-secs",
            "1",
        ],
        Some(tx),
    );
    let mut a = connect_from(server.addr, [127, 0, 0, 1]);
    let mut b = connect_from(server.addr, [127, 0, 0, 1]);
    assert!(echoes(&mut a) && echoes(&mut b));
    let mut c = connect_from(server.addr, [127, 0, 0, 1]);
    assert!(closed(&mut c), "la tercera desde la misma dirección");
    console_shows(&console, "too many connections from its address");
    let mut d = connect_from(server.addr, [127, 0, 0, 2]);
    assert!(echoes(&mut d), "otra dirección entra");
    let mut e = connect_from(server.addr, [127, 0, 0, 3]);
    assert!(closed(&mut e), "la cuarta en total");
    console_shows(&console, "the server is full");

    // `a` envía un byte cada 200 ms, sin terminar nunca la línea.
    let mut trickle = a.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        for _ in 0..50 {
            if trickle.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    let mut rest = Vec::new();
    let _ = a.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    console_shows(
        &console,
        "no complete line in 1 s, so the connection was closed",
    );
    let _ = sender.join();
    // Su lugar quedó libre (y el de `c` y `e` nunca se tomó).
    let mut again = connect_from(server.addr, [127, 0, 0, 1]);
    assert!(echoes(&mut again));
}

/// La consola muestra cada lectura para enseñar el encuadre, pero no de un
/// flujo sin fin: las primeras 50 lecturas y líneas, y después un resumen
/// (solo el programa completo: `extra/echo_limits.rs`; el eco del curso
/// las muestra todas).
#[cfg(feature = "extra")]
#[test]
fn a_long_stream_shows_its_first_reads_and_sums_up_the_rest() {
    let (tx, console) = mpsc::channel();
    let server = echo_server_with(&[], Some(tx));
    let (mut stream, mut reader) = connect(server.addr);
    let mut sent = String::new();
    for i in 0..300 {
        sent.push_str(&format!("linea numero {i}\n"));
    }
    stream.write_all(sent.as_bytes()).expect("write");
    for i in 0..300 {
        assert_eq!(line(&mut reader), format!("linea numero {i}\n"));
    }
    drop((stream, reader));
    let seen = console_shows(&console, "Connection closed");
    let reads = seen.iter().filter(|l| l.contains(": read ")).count();
    let echoes = seen.iter().filter(|l| l.contains(": echo ")).count();
    assert_eq!((reads, echoes), (50, 50), "{seen:#?}");
    let summary = seen
        .iter()
        .find(|l| l.contains("more lines not shown"))
        .unwrap_or_else(|| panic!("sin resumen: {seen:#?}"));
    assert!(summary.contains("250 more lines"), "{summary}");
    assert!(
        summary.contains(&format!("({} bytes in all)", sent.len())),
        "{summary}"
    );
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(common::PATIENCE))
        .expect("timeout");
    let reader = BufReader::new(stream.try_clone().expect("clone"));
    (stream, reader)
}

fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut text = String::new();
    reader.read_line(&mut text).expect("eco");
    text
}

#[test]
fn a_message_split_across_many_tiny_writes_comes_back_whole() {
    let server = echo_server();
    let (mut stream, mut reader) = connect(server.addr);
    let message = "Hola Server! Año, acción, pingüino, ñandú.\n";
    for byte in message.as_bytes() {
        // Un byte por escritura: la ñ (2 bytes) viaja partida.
        stream.write_all(&[*byte]).expect("write");
    }
    assert_eq!(line(&mut reader), message);
}

#[test]
fn two_messages_in_one_write_come_back_as_two_lines() {
    let server = echo_server();
    let (mut stream, mut reader) = connect(server.addr);
    let long = "x".repeat(45);
    stream
        .write_all(format!("primero ñ\n{long}\nter").as_bytes())
        .expect("write");
    assert_eq!(line(&mut reader), "primero ñ\n");
    assert_eq!(line(&mut reader), format!("{long}\n"));
    stream.write_all("cero\n".as_bytes()).expect("write");
    assert_eq!(line(&mut reader), "tercero\n");
    // Varios clientes a la vez, cada uno en su hilo del servidor.
    let (mut other, mut other_reader) = connect(server.addr);
    other.write_all(b"otro\n").expect("write");
    assert_eq!(line(&mut other_reader), "otro\n");
}

#[test]
fn the_echo_client_prints_the_answer() {
    let server = echo_server();
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args([
            "--echo",
            "Hola Server! ñ",
            "--addr",
            &server.addr.to_string(),
        ])
        .output()
        .expect("cliente --echo");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hola Server! ñ\n");
}

#[test]
fn the_echo_client_fails_when_no_answer_comes() {
    // Un "servidor" que acepta y cierra sin responder.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let closer = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        drop(stream);
    });
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--echo", "hola", "--addr", &addr.to_string()])
        .output()
        .expect("cliente --echo");
    closer.join().expect("closer");
    assert!(!output.status.success());
}
