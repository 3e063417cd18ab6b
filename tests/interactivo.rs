//! El cliente de terminal con una terminal de verdad (issue #16): cada
//! prueba corre `cliente` en una pseudoterminal (`rexpect`), le escribe
//! como una persona (teclas, flechas, Ctrl-D) y lee lo que la terminal
//! muestra. Los otros usuarios son sockets de la prueba.
//!
//! La salida de la terminal trae las secuencias de escape con que el editor
//! redibuja la línea; se quitan (`strip_ansi_escape_codes`) antes de buscar.
//!
//! Solo el programa completo: el modo interactivo (el editor de líneas, el prompt, la clave tapada) es de `extra/editor.rs`.
#![cfg(feature = "extra")]

mod common;

use common::Server;
use rexpect::process::{Signal, WaitStatus};
use rexpect::session::{Options, PtySession, spawn_with_options};
use std::process::Command;

/// Plazo de cada espera de la terminal, en milisegundos.
const PATIENCE_MS: u64 = 20_000;

/// `cliente` en una terminal, con todo lo que mostró hasta ahora.
struct Terminal {
    session: PtySession,
    seen: String,
}

impl Terminal {
    fn start(server: &Server) -> Terminal {
        Terminal::start_with(server, &[])
    }

    /// `cliente --addr <servidor>` con `extra` detrás, en una terminal.
    fn start_with(server: &Server, extra: &[&str]) -> Terminal {
        Terminal::start_at(&server.addr.to_string(), extra, true)
    }

    /// `cliente --addr <addr>` con `extra` detrás, en una terminal; con
    /// `strip`, sin las secuencias de escape en lo que se lee.
    fn start_at(addr: &str, extra: &[&str], strip: bool) -> Terminal {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cliente"));
        command
            .args(["--addr", addr])
            .args(extra)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR");
        let options = Options::default()
            .timeout_ms(Some(PATIENCE_MS))
            .strip_ansi_escape_codes(strip);
        let session = spawn_with_options(command, options).expect("cliente en una terminal");
        Terminal {
            session,
            seen: String::new(),
        }
    }

    /// Espera a que la terminal muestre `text`.
    fn expect(&mut self, text: &str) {
        // `rexpect` da cada byte como un `char`: el texto buscado se pasa
        // a esa misma forma, y lo visto se decodifica al final.
        let as_bytes: String = text.bytes().map(char::from).collect();
        match self.session.exp_string(&as_bytes) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(&as_bytes);
            }
            Err(error) => panic!(
                "la terminal no mostró {text:?} ({error}); mostró:\n{}",
                self.decoded()
            ),
        }
    }

    /// Lo que mostró la terminal hasta ahora, como UTF-8.
    fn decoded(&self) -> String {
        let bytes: Vec<u8> = self.seen.chars().map(|c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Teclas tal cual (sin Enter).
    fn keys(&mut self, keys: &str) {
        self.session.send(keys).expect("teclas");
        self.session.flush().expect("teclas");
    }

    fn enter(&mut self, line: &str) {
        self.keys(&format!("{line}\r"));
    }

    /// Espera el fin del programa y devuelve su código de salida.
    fn exit_code(mut self) -> (i32, String) {
        if let Ok(rest) = self.session.exp_eof() {
            self.seen.push_str(&rest);
        }
        match self.session.process().wait() {
            Ok(WaitStatus::Exited(_, code)) => (code, self.decoded()),
            other => panic!("el cliente no terminó bien: {other:?}\n{}", self.decoded()),
        }
    }

    /// Registra a `name` con la contraseña pedida aparte, y entra.
    fn register_hidden(&mut self, name: &str, password: &str, dollars: u64) {
        // El prompt cuenta los segundos que quedan para entrar (60 por
        // defecto): `chat@tcp 60s> ` o uno menos.
        self.expect("You have 60 seconds to sign in.");
        self.expect("chat@tcp ");
        self.expect("s> ");
        self.enter(&format!(":register {name}"));
        self.expect("Password: ");
        self.enter(password);
        self.expect("What is your balance?");
        self.enter(&dollars.to_string());
        self.expect(&format!("The balance of {dollars} has been set"));
        self.expect(&format!("{name}@tcp> "));
    }
}

#[test]
fn the_prompt_shows_the_seconds_left_to_sign_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--signin-timeout-secs", "30"]);
    let mut ana = Terminal::start(&server);
    ana.expect(
        "[SERVER] Client: Sign in with :login <name> <password> or create an account \
         with :register <name> <password>. You have 30 seconds to sign in.",
    );
    match ana.session.exp_regex("chat@tcp (30|29|28)s> ") {
        Ok((before, found)) => {
            ana.seen.push_str(&before);
            ana.seen.push_str(&found);
        }
        Err(error) => panic!("sin el plazo en el prompt ({error}):\n{}", ana.decoded()),
    }
    // Una línea cualquiera: el prompt siguiente sigue contando.
    ana.enter(":help");
    ana.expect("Commands:");
    ana.expect("s> ");
    ana.enter(":register ana clave");
    ana.expect("What is your balance?");
    ana.enter("5");
    ana.expect("The balance of 5 has been set");
    ana.expect("ana@tcp> ");
    ana.enter(":q");
    let (code, seen) = ana.exit_code();
    assert_eq!(code, 0, "{seen}");
}

#[test]
fn lines_arrive_above_the_one_being_typed_and_passwords_never_show() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);
    let mut alice = Terminal::start(&server);
    alice.register_hidden("alice", "clave-muy-secreta", 100);
    bob.expect("[SERVER] Client: alice connected!");

    // Media línea escrita; llega un mensaje; se termina la línea.
    alice.keys("mitad de ");
    bob.send("hola alice");
    alice.expect("bob: hola alice");
    alice.enter("línea");
    bob.expect("alice: mitad de línea");
    alice.expect("Me: mitad de línea");

    // Las flechas editan: «helo», izquierda, «l» → «hello».
    alice.keys("helo\x1b[Dl\r");
    bob.expect("alice: hello");

    // Un privado se ve como privado, y un comando no se repite como Me:.
    alice.enter(":p bob psst");
    bob.expect("[PRIVATE] alice: psst");
    alice.expect("Me → bob: psst");
    alice.enter(":funds");
    alice.expect("You have 100 dollars.");

    // Una contraseña escrita en la misma línea tampoco se ve.
    alice.enter(":login alice otra-clave-secreta");
    alice.expect("You are already signed in as alice.");

    alice.enter(":q");
    bob.expect("[SERVER] Client: alice disconnected!");
    let (code, seen) = alice.exit_code();
    assert_eq!(code, 0, "{seen}");
    assert!(
        !seen.contains("Me: :"),
        "un comando se mostró como mensaje:\n{seen}"
    );
    for secret in ["clave-muy-secreta", "otra-clave-secreta"] {
        assert!(
            !seen.contains(secret),
            "se vio la contraseña {secret}:\n{seen}"
        );
    }
}

#[test]
fn lines_typed_ahead_while_the_server_answers_are_never_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 10);
    let mut ana = Terminal::start(&server);
    ana.expect("s> ");
    // Todo de una vez, como quien escribe rápido (o pega) mientras el
    // servidor todavía calcula el hash de la contraseña: la entrada, el
    // saldo y dos mensajes llegan juntos al editor.
    ana.keys(":register ana clave\r100\runo\rdos\r");
    ana.expect("The balance of 100 has been set");
    bob.expect("[SERVER] Client: ana connected!");
    bob.expect("ana: uno");
    bob.expect("ana: dos");
    ana.expect("Me: dos");

    // Y lo escrito línea a línea mientras el cliente espera la respuesta
    // a la entrada (entre dos lecturas del editor) tampoco se pierde.
    let mut eva = Terminal::start(&server);
    eva.expect("s> ");
    eva.enter(":register eva clave");
    eva.enter("50");
    eva.enter("tres");
    eva.enter("cuatro");
    eva.expect("The balance of 50 has been set");
    bob.expect("[SERVER] Client: eva connected!");
    bob.expect("eva: tres");
    bob.expect("eva: cuatro");
    eva.enter(":q");
    let (code, seen) = eva.exit_code();
    assert_eq!(code, 0, "{seen}");
    ana.enter(":q");
    let (code, seen) = ana.exit_code();
    assert_eq!(code, 0, "{seen}");
}

/// Un servidor y alice ya en la sala, en una terminal.
fn alice_in_a_terminal() -> (tempfile::TempDir, Server, Terminal) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut alice = Terminal::start(&server);
    alice.register_hidden("alice", "clave", 1);
    (dir, server, alice)
}

/// Ctrl-Z y `fg` (SIGSTOP y SIGCONT) no terminan una sesión UDP. En una
/// terminal, el editor de líneas atiende SIGCONT (para volver a su modo)
/// y la señal interrumpe el `recv` con plazo del receptor UDP, que falla
/// con `EINTR` y no se reinicia solo (signal(7)); el cliente lo tomaba por
/// la conexión perdida y salía con 1.
#[test]
fn stopping_and_continuing_a_udp_client_in_a_terminal_keeps_its_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut bob = server.join("bob", 1);
    let mut zoe = Terminal::start_with(&server, &["--udp"]);
    zoe.expect("chat@udp> ");
    zoe.enter(":register zoe");
    zoe.expect("Password: ");
    zoe.enter("clave-zoe");
    zoe.expect("What is your balance?");
    zoe.enter("7");
    zoe.expect("The balance of 7 has been set");
    zoe.expect("zoe@udp> ");
    bob.expect("[SERVER] Client: zoe connected!");
    for signal in [Signal::SIGSTOP, Signal::SIGCONT] {
        zoe.session.process_mut().signal(signal).expect("señal");
        // Parado un rato: el receptor estaba dentro de su `recv`.
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    zoe.enter("sigo aquí");
    bob.expect("zoe: sigo aquí");
    zoe.enter(":q");
    let (code, seen) = zoe.exit_code();
    assert_eq!(code, 0, "{seen}");
}

#[test]
fn a_server_shutdown_ends_an_interactive_session_with_its_reason() {
    let (_dir, server, mut alice) = alice_in_a_terminal();
    alice.keys("a medio escribir");
    server.signal(libc::SIGTERM);
    alice.expect("The server is shutting down.");
    alice.expect("cliente: The server shut down.");
    let (code, seen) = alice.exit_code();
    assert_eq!(code, 4, "{seen}");
}

#[test]
fn help_lists_the_clients_own_commands() {
    let (_dir, _server, mut alice) = alice_in_a_terminal();
    alice.enter(":help");
    alice.expect("Client commands: :udp");
    alice.session.send_control('d').expect("Ctrl-D");
    let (code, seen) = alice.exit_code();
    assert_eq!(code, 0, "Ctrl-D es como :q:\n{seen}");
}

/// Los demás finales, con la entrada en una tubería (el mismo núcleo).
mod endings {
    use super::common::Server;
    use std::io::Write;
    use std::process::{Child, Command, Output, Stdio};

    /// `cliente` con `script` en la entrada; la entrada queda abierta si
    /// `keep_open`, para que el final lo decida el servidor.
    /// `cliente` hacia `addr`, con la entrada, la salida y los errores en
    /// tuberías.
    fn spawn(addr: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_cliente"))
            .args(["--addr", addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cliente")
    }

    fn cliente(addr: &str, script: &str, keep_open: bool) -> Output {
        let mut child = spawn(addr);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(script.as_bytes()).expect("escribir");
        let kept = keep_open.then_some(stdin);
        let output = child.wait_with_output().expect("esperar");
        drop(kept);
        output
    }

    fn ended(output: &Output, code: i32, reason: &str) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.contains(reason),
            "falta {reason:?} en:\n{stderr}\n{stdout}"
        );
    }

    #[test]
    fn each_ending_says_why_with_its_own_exit_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(
            dir.path(),
            &["--signin-timeout-secs", "1", "--max-signin-failures", "2"],
        );
        let addr = server.addr.to_string();
        // (El 3, sin servidor, lo prueban tests/cliente.rs y tests/cliente_udp.rs.)
        ended(&cliente(&addr, "", true), 5, "You did not sign in in time.");
        ended(
            &cliente(&addr, ":login nadie x\n:login nadie y\n", true),
            7,
            "Too many failed sign-ins.",
        );
        let full_dir = tempfile::tempdir().expect("tempdir");
        let full = Server::start(full_dir.path(), &["--max-clients", "1"]);
        let _only_one = full.connect();
        ended(
            &cliente(&full.addr.to_string(), "", true),
            6,
            "The server is full.",
        );
        let output = cliente(&addr, ":register ana clave\n5\n", false);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }

    #[test]
    fn a_server_that_dies_is_a_lost_connection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = Server::start(dir.path(), &[]);
        let mut child = spawn(&server.addr.to_string());
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b":register ana clave\n5\n")
            .expect("escribir");
        server.expect_console("[SERVER] Client: ana connected!");
        server.kill();
        let output = child.wait_with_output().expect("esperar");
        drop(stdin);
        ended(&output, 1, "The connection to the server was lost.");
    }
}

/// Lo que un servidor ajeno (o uno que se hace pasar por el del curso)
/// podría hacerle a la terminal del usuario, en una línea cada uno.
const HOSTILE: [(&str, &str); 4] = [
    // El título de la ventana.
    ("\u{1b}]0;pwned\u{7}", "^[]0;pwned^G"),
    // Escribir en el portapapeles (OSC 52).
    ("\u{1b}]52;c;cHduZWQ=\u{7}", "^[]52;c;cHduZWQ=^G"),
    // Borrar la pantalla.
    ("\u{1b}[2J", "^[[2J"),
    // Pedir la posición del cursor: la terminal escribiría la respuesta en
    // la entrada del cliente, como si la hubiera tecleado el usuario.
    ("\u{1b}[6n", "^[[6n"),
];

/// Un servidor de mentira que saluda, envía [`HOSTILE`] y `fin`, y espera
/// a que el cliente cierre. Devuelve su dirección.
fn hostile_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut lines = String::from(
            "[SERVER] Client: Sign in with :login <name> <password> or create an account with :register <name> <password>.\n",
        );
        for (raw, _) in HOSTILE {
            lines.push_str(&format!("{raw}\n"));
        }
        lines.push_str("fin\n");
        let _ = std::io::Write::write_all(&mut stream, lines.as_bytes());
        let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
    });
    addr
}

#[test]
fn escape_sequences_from_the_network_are_shown_not_obeyed() {
    let addr = hostile_server();
    let mut terminal = Terminal::start_at(&addr, &[], false);
    terminal.expect("fin");
    let seen = terminal.decoded();
    for (raw, shown) in HOSTILE {
        assert!(seen.contains(shown), "no se ve {shown:?} en {seen:?}");
        assert!(!seen.contains(raw), "llegó {raw:?} a la terminal: {seen:?}");
    }
    terminal.keys("\u{4}");
    let _ = terminal.exit_code();

    // Con la salida en una tubería, lo mismo, y ni un ESC.
    let addr = hostile_server();
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--addr", &addr])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cliente");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    for (_, shown) in HOSTILE {
        assert!(stdout.contains(shown), "no se ve {shown:?} en {stdout:?}");
    }
}
