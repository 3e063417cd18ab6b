//! Los programas de `examples/` (issue #18), el camino del informe desde el
//! servidor más simple: cada uno corre de verdad, sobre un socket real en
//! `127.0.0.1:0`, y hace lo que el capítulo 3 dice que hace. `cargo test`
//! compila los ejemplos; aquí se buscan junto a este mismo ejecutable.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// `target/<perfil>/examples/<name>`: `cargo test` deja los ejemplos ahí.
fn example(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("este ejecutable");
    let profile = me
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<perfil>");
    profile.join("examples").join(name)
}

/// Arranca un ejemplo servidor en un puerto libre y devuelve el proceso, su
/// consola y su dirección (la primera línea: `Listening on ...`).
fn start(name: &str) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = Command::new(example(name))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("no arrancó examples/{name}: {e}"));
    let mut console = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    console.read_line(&mut first).expect("primera línea");
    let addr = first
        .trim()
        .strip_prefix("Listening on ")
        .unwrap_or_else(|| panic!("primera línea {first:?}"))
        .to_string();
    (child, console, addr)
}

struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Peer {
    fn connect(addr: &str) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("plazo");
        Peer {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.writer, "{line}").expect("escribir");
    }

    fn expect(&mut self, expected: &str) {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("leer");
        assert_eq!(line.trim_end_matches('\n'), expected);
    }
}

fn console_line(console: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    console.read_line(&mut line).expect("consola");
    line.trim_end().to_string()
}

#[test]
fn the_echo_example_returns_each_line_to_each_client() {
    let (mut child, _console, addr) = start("eco");
    let mut ana = Peer::connect(&addr);
    let mut beto = Peer::connect(&addr);
    ana.send("Hola Server!");
    beto.send("ñandú, acentos: áéíóú");
    beto.expect("ñandú, acentos: áéíóú");
    ana.expect("Hola Server!");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_minimal_chat_relays_lines_to_the_others_and_says_who_comes_and_goes() {
    let (mut child, mut console, addr) = start("chat_minimo");
    let mut one = Peer::connect(&addr);
    one.expect("Welcome to the best chat in the universe!");
    // El aviso del propio ingreso también le llega a uno.
    one.expect("[SERVER] Client: 1 connected!");
    assert_eq!(console_line(&mut console), "1 connected");
    let mut two = Peer::connect(&addr);
    two.expect("Welcome to the best chat in the universe!");
    two.expect("[SERVER] Client: 2 connected!");
    one.expect("[SERVER] Client: 2 connected!");
    assert_eq!(console_line(&mut console), "2 connected");

    one.send("hola");
    two.expect("1: hola");
    assert_eq!(console_line(&mut console), "1: hola");
    two.send(":q");
    two.expect("You have been disconnected from the best chat in the universe!");
    one.expect("[SERVER] Client: 2 disconnected!");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_race_lab_shows_money_changing_with_two_locks_and_exact_with_one() {
    let output = Command::new(example("carrera"))
        .output()
        .expect("examples/carrera");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let broken = text
        .lines()
        .find(|l| l.starts_with("candado tomado dos veces:"))
        .unwrap_or_else(|| panic!("sin la versión rota en:\n{text}"));
    let fixed = text
        .lines()
        .find(|l| l.starts_with("una sola sección crítica:"))
        .unwrap_or_else(|| panic!("sin la versión buena en:\n{text}"));
    // 160.000 transferencias con el candado suelto en el medio: que ninguna
    // se pise es posible en teoría, pero no se vio nunca (ni con un solo
    // núcleo: el `yield_now` cede el procesador justo ahí).
    assert!(
        broken.contains("se crearon") || broken.contains("se destruyeron"),
        "{broken}"
    );
    assert!(fixed.ends_with("exacto"), "{fixed}");
}
