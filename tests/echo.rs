//! El servidor de eco (enunciado 002) por sockets reales: un mensaje partido
//! en muchas escrituras mínimas, dos mensajes en una sola escritura, UTF-8
//! partido entre lecturas, y el cliente `cliente --echo`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_servidor"))
        .args(["--echo", "--addr", "127.0.0.1:0"])
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
        .parse()
        .expect("dirección");
    // La consola sigue escribiendo; un hilo la lee para que nunca se llene.
    thread::spawn(move || {
        let mut sink = String::new();
        while console.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    EchoServer { child, addr }
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
