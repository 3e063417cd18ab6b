//! El servidor del curso con las respuestas del curso en cada punto de
//! enchufe (`Plugins::default()`: nada que preparar en el socket, nadie
//! que cuente, ningún límite), sobre sockets de verdad: sin lo que agrega
//! `extra/`, sigue siendo un chat completo. El servidor corre en este
//! mismo proceso, en `127.0.0.1:0` con un directorio temporal.

mod common;

use chat::curso::password::HashCost;
use chat::curso::servidor::Plugins;
use chat::curso::udp::UdpServer;
use chat::servidor::{Server, Settings};
use common::{Client, Running, UdpClient};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

/// El servidor del curso, sin enchufes, en un hilo de la prueba.
fn course_server(dir: &std::path::Path) -> SocketAddr {
    course_server_idle(dir, chat::curso::udp::DEFAULT_IDLE)
}

/// Lo mismo, con otra inactividad para las sesiones solo-UDP.
fn course_server_idle(dir: &std::path::Path, idle: Duration) -> SocketAddr {
    let settings = Settings {
        addr: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        hash_cost: HashCost::Minimal,
    };
    let udp = Box::new(move |socket, chat| UdpServer::new(std::sync::Arc::new(socket), chat, idle));
    let server = Server::bind(&settings, Box::new(|_: &str| {}), Plugins::default(), udp)
        .expect("el servidor arranca");
    let addr = server.local_addr().expect("dirección");
    thread::spawn(move || server.serve());
    addr
}

#[test]
fn with_the_course_plugins_the_chat_works_and_limits_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = course_server(dir.path());

    let mut ana = Client::connect(addr);
    ana.register("ana", 100);
    let mut bob = Client::connect(addr);
    bob.register("bob", 20);
    ana.expect("[SERVER] Client: bob connected!");

    // Mensajes, privados, la lista, una transferencia y el saldo.
    ana.send("hola bob :smile");
    bob.expect("ana: hola bob :~)");
    bob.send(":p ana psst");
    ana.expect("[PRIVATE] bob: psst");
    ana.send(":u");
    ana.expect("[SERVER] Client: Connected users: ana, bob");
    ana.send(":t bob 30");
    ana.expect("[SERVER] Client: You transferred 30 dollars to bob. You have 70 dollars.");
    bob.expect("[SERVER] Client: ana transferred 30 dollars to you. You have 50 dollars.");
    assert_eq!(bob.funds(), 50);

    // Sin límite de líneas: 100 seguidas llegan sin aviso de frenado (con
    // los límites del programa completo, 20 por segundo, llegaría uno).
    let burst: String = (0..100).map(|i| format!("línea {i}\n")).collect();
    ana.send_bytes(burst.as_bytes());
    for i in 0..100 {
        bob.expect(&format!("ana: línea {i}"));
    }
    ana.expect_nothing_pending();

    // Sin bloqueo por contraseñas: 60 malas desde la misma dirección, y la
    // buena se acepta igual (ana ya está dentro: es la respuesta a una
    // contraseña correcta, no un bloqueo).
    let mut guess = Client::connect(addr);
    for i in 0..60 {
        guess.send(&format!(":login ana mala{i}"));
        guess.expect("[SERVER] Client: Wrong name or password.");
    }
    guess.send(":login ana pw-ana");
    guess.expect("[SERVER] Client: ana is already connected.");

    // Nadie cuenta: `:stats` no existe sin el observador del programa
    // completo, y la ayuda no lo ofrece.
    ana.send(":stats");
    ana.expect("[SERVER] Client: Unknown command :stats. Type :help to see the commands.");
    ana.send(":help");
    let help = ana.line();
    assert!(
        help.starts_with("[SERVER] Client: Commands: ") && !help.contains(":stats"),
        "{help}"
    );

    ana.send(":q");
    ana.expect("You have been disconnected from the best chat in the universe!");
    bob.expect("[SERVER] Client: ana disconnected!");
}

/// Copia los archivos de `from` a `to`: lo que hay en el disco en ese
/// instante, como lo encontraría un servidor que arranca después de que
/// el proceso murió (sin `:q` ni despedida).
fn copy_data_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("leer el directorio") {
        let entry = entry.expect("entrada");
        if entry.file_type().expect("tipo").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copiar");
        }
    }
}

#[test]
fn with_the_course_plugins_what_was_acknowledged_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = course_server(dir.path());
    let mut ana = Client::connect(addr);
    ana.register("ana", 100);
    let mut bob = Client::connect(addr);
    bob.register("bob", 20);
    ana.expect("[SERVER] Client: bob connected!");
    for i in 1..=5 {
        ana.send(&format!(":t bob {i}"));
        ana.expect(&format!(
            "[SERVER] Client: You transferred {i} dollars to bob. You have {} dollars.",
            100 - i * (i + 1) / 2
        ));
    }

    // Con la última confirmación en la mano, el disco ya tiene todo: otro
    // servidor sobre una copia de los archivos de este instante (el primero
    // sigue vivo y con el directorio tomado) lo encuentra.
    let later = tempfile::tempdir().expect("tempdir");
    copy_data_dir(dir.path(), later.path());
    let again = course_server(later.path());
    let mut ana = Client::connect(again);
    assert_eq!(ana.login("ana"), 85);
    let mut bob = Client::connect(again);
    assert_eq!(bob.login("bob"), 35);
    ana.expect("[SERVER] Client: bob connected!");
    bob.send(":login ana otra");
    bob.expect("[SERVER] Client: You are already signed in as bob.");
}

#[test]
fn with_the_course_output_a_client_that_never_reads_is_cut_and_nobody_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = course_server(dir.path());
    let mut ana = Client::connect(addr);
    ana.register("ana", 100);
    // bob entra y nunca más lee.
    let mut bob = Client::connect(addr);
    bob.register("bob", 20);
    ana.expect("[SERVER] Client: bob connected!");

    // Más de lo que caben en el canal de bob (1024 líneas) y en los búferes
    // del kernel juntos (unos MiB en loopback): 40 MB. Si entregar esperara
    // a bob, el hilo de ana se colgaría y este `write` también.
    ana.give_up_writing_after_patience();
    let line = format!("{}\n", "x".repeat(999));
    let chunk = line.repeat(1000);
    for _ in 0..30 {
        ana.send_bytes(chunk.as_bytes());
    }
    ana.expect("[SERVER] Client: bob disconnected!");
    // ana sigue atendida como siempre.
    ana.send(":u");
    ana.expect("[SERVER] Client: Connected users: ana");
    drop(bob);
}

/// El lado UDP del curso confía en la dirección de origen, como el
/// enunciado: sin cookie, `:register` por UDP recibe la bienvenida y su
/// token, y el usuario solo-UDP conversa con uno TCP en la misma sala
/// hasta `:q` o hasta que pasa su inactividad.
#[test]
fn with_the_course_plugins_udp_signs_in_without_a_cookie_and_shares_the_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = course_server_idle(dir.path(), Duration::from_secs(2));
    let mut bob = Client::connect(addr);
    bob.register("bob", 10);

    // Un datagrama corto, sin relleno ni cookie: el programa completo
    // respondería con una cookie; el curso, con la bienvenida.
    let mut ana = UdpClient::new(addr);
    ana.name = "ana".into();
    ana.send_raw(b":register ana pw");
    ana.expect_welcome();
    ana.expect("[SERVER] Client: What is your balance?");
    ana.send("100");
    ana.expect("[SERVER] Client: The balance of 100 has been set to your account.");
    bob.expect("[SERVER] Client: ana connected!");

    ana.send("hola bob");
    bob.expect("ana: hola bob");
    bob.send("hola ana");
    ana.expect("bob: hola ana");
    ana.send(":u");
    ana.expect("[SERVER] Client: Connected users: ana, bob");
    ana.send(":t bob 30");
    ana.expect("[SERVER] Client: You transferred 30 dollars to bob. You have 70 dollars.");
    bob.expect("[SERVER] Client: ana transferred 30 dollars to you. You have 40 dollars.");
    ana.send(":q");
    ana.expect("You have been disconnected from the best chat in the universe!");
    bob.expect("[SERVER] Client: ana disconnected!");

    // Otra vez dentro, y callada: a los 2 s sin datagramas, la sesión se
    // cierra con la despedida y los demás lo ven.
    let mut again = UdpClient::new(addr);
    again.name = "ana".into();
    again.send_raw(b":login ana pw");
    again.expect_welcome();
    again.expect("[SERVER] Client: You have 70 dollars.");
    bob.expect("[SERVER] Client: ana connected!");
    again.expect("You have been disconnected from the best chat in the universe!");
    bob.expect("[SERVER] Client: ana disconnected!");
}

/// El cliente de terminal con el servidor del curso, que responde sin
/// pedir cookie: cada datagrama sale una vez. El cliente guarda la sonda
/// (su primer datagrama) para repetirla con la cookie; con una respuesta
/// directa la repetía sin ella, y el servidor la atendía dos veces: en
/// modo TCP, el `:ping` que presenta la dirección UDP daba un `pong` de más
/// en la pantalla; en modo `--udp`, cada entrada se atendía dos veces.
#[test]
fn with_the_course_server_the_terminal_client_sends_each_datagram_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = course_server(dir.path()).to_string();
    let mut ana = Running::start(&["--addr", &addr]);
    ana.send(":register ana pw\n100\n");
    ana.expect("[SERVER] Client: The balance of 100 has been set to your account.");
    ana.send(":udp\nhola\n:u\n");
    let users = "[SERVER] Client: Connected users: ana";
    let mut shown = ana.lines_until(|line| line == users, common::PATIENCE);
    let (code, stderr, rest) = ana.finish();
    assert_eq!(code, Some(0), "{stderr}");
    shown.extend(rest);
    // Con la entrada en una tubería, `:udp` puede llegar antes que la
    // respuesta al `:ping` que presentó la dirección: el aviso es justo.
    shown.retain(|line| !line.starts_with("The server has not answered by UDP"));
    assert_eq!(
        shown,
        [
            "Your lines now travel by UDP.",
            "Me: hola",
            users,
            "You have been disconnected from the best chat in the universe!"
        ],
        "nada de más (un pong que nadie pidió)"
    );

    let mut udp = Running::start(&["--addr", &addr, "--udp"]);
    udp.send(":login ana pw\n");
    udp.expect("[SERVER] Client: You have 100 dollars.");
    let (code, stderr, _) = udp.finish();
    assert_eq!(code, Some(0), "{stderr}");
    drop(dir);
}
