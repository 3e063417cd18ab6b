//! La ventana, probada sin pantalla con `egui_kittest`: se escribe en los
//! campos, se aprietan botones y teclas, y se mira lo que muestra. La red
//! es de verdad: el servidor del chat corre en este mismo proceso sobre
//! `127.0.0.1:0` con un directorio temporal, y los otros usuarios son
//! sockets TCP de la prueba. Para "el servidor se va" basta un servidor
//! falso que cierra la conexión.
//!
//! Nada espera un tiempo fijo: cada paso avanza cuadros hasta que se
//! cumple su condición, con un plazo generoso.

use chat::extra::config::Config;
use chat::protocolo::Event;
use cliente_gui::app::App;
use cliente_gui::model::{Transport, View};
use eframe::egui::{self, Key};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Plazo de cada espera: de sobra en una máquina cargada.
const PATIENCE: Duration = Duration::from_secs(30);

/// El servidor real, en un hilo de la prueba; devuelve su dirección y su
/// consola (las líneas que registró).
fn real_server(dir: &std::path::Path) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let dir = dir.to_string_lossy().into_owned();
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--hash-cost",
        "minimal",
        "--max-registrations-per-ip",
        "0",
        "--data-dir",
        &dir,
    ];
    let config = Config::from_args(args.map(String::from)).expect("opciones válidas");
    let console = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::clone(&console);
    let sink = move |line: &str| lines.lock().expect("consola").push(line.to_string());
    let (server, _) = chat::extra::server(&config, Box::new(sink)).expect("el servidor arranca");
    let addr = server.local_addr().expect("dirección");
    thread::spawn(move || server.serve());
    (addr, console)
}

/// Una ventana de 860x600 que apunta a `addr`.
fn window(addr: SocketAddr) -> Harness<'static, App> {
    let app = App::new(&addr.to_string(), std::sync::Arc::new(|| {}));
    Harness::builder()
        .with_size([860.0, 600.0])
        .build_ui_state(|ui, app: &mut App| app.frame(ui), app)
}

/// Avanza cuadros hasta que `done` se cumple (la red trabaja en sus hilos).
fn wait_for(harness: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        harness.step();
        if done(harness.state()) {
            return harness.run_steps(2);
        }
        assert!(
            Instant::now() < deadline,
            "la ventana nunca llegó a: {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Escribe `text` en el campo de etiqueta `label`, reemplazando lo que
/// tenía, como una persona: clic, seleccionar todo, escribir.
fn type_into(harness: &mut Harness<'_, App>, label: &str, text: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(2);
}

fn press_enter(harness: &mut Harness<'_, App>) {
    harness.key_press(Key::Enter);
    harness.run_steps(2);
}

fn click(harness: &mut Harness<'_, App>, label: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

/// Lo que la ventana muestra en este momento contiene `text`.
fn shows(harness: &Harness<'_, App>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Un usuario de la prueba, por un socket TCP crudo.
struct Peer {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn join(addr: SocketAddr, name: &str, dollars: u64) -> Peer {
        let stream = TcpStream::connect(addr).expect("conectar");
        stream.set_read_timeout(Some(PATIENCE)).expect("plazo");
        let reader = BufReader::new(stream.try_clone().expect("clonar"));
        let mut peer = Peer { stream, reader };
        peer.send(&format!(":register {name} clave-{name}"));
        peer.expect(&Event::AskBalance.to_string());
        peer.send(&dollars.to_string());
        peer.expect(&Event::BalanceSet(dollars).to_string());
        peer
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stream, "{line}").expect("enviar");
    }

    /// Lee líneas hasta una igual a `line`.
    fn expect(&mut self, line: &str) {
        let mut seen = Vec::new();
        loop {
            let mut got = String::new();
            match self.reader.read_line(&mut got) {
                Ok(n) if n > 0 => {}
                other => panic!("no llegó {line:?} ({other:?}); llegó {seen:?}"),
            }
            let got = got.trim_end().to_string();
            if got == line {
                return;
            }
            seen.push(got);
        }
    }
}

/// Iniciar sesión con el teclado solo: Tab entre campos, Enter para entrar.
fn sign_in_with_keyboard(harness: &mut Harness<'_, App>, name: &str, password: &str) {
    harness.run_steps(2);
    // El foco empieza en "Nombre".
    harness.get_by_label("Nombre").type_text(name);
    harness.run_steps(1);
    harness.key_press(Key::Tab);
    harness.run_steps(1);
    harness.get_by_label("Contraseña").type_text(password);
    harness.run_steps(1);
    press_enter(harness);
}

#[test]
fn a_whole_session_against_the_real_server() {
    let dir = tempfile::tempdir().expect("directorio temporal");
    let (addr, console) = real_server(dir.path());
    let mut bob = Peer::join(addr, "bob", 50);
    let mut ui = window(addr);

    // Sin cuenta, Login falla y el error queda junto a los botones.
    sign_in_with_keyboard(&mut ui, "ana", "clave-ana");
    wait_for(&mut ui, "el error de la contraseña", |app| {
        app.model.sign_in_error.is_some()
    });
    assert!(shows(&ui, "Wrong name or password"));
    assert_eq!(ui.state().model.view, View::SignIn);
    // El plazo que anunció el servidor (60 s por omisión) se ve contando.
    assert!(shows(&ui, " s para iniciar sesión."));

    // Register en la misma conexión, y la pregunta del saldo.
    click(&mut ui, "Register");
    wait_for(&mut ui, "la pregunta del saldo", |app| {
        app.model.view == View::Balance
    });
    assert!(!shows(&ui, "para iniciar sesión"), "tras entrar, sin plazo");
    type_into(&mut ui, "Saldo inicial (dólares)", "mucho");
    press_enter(&mut ui);
    wait_for(&mut ui, "el error del saldo", |app| {
        app.model.balance_error.is_some()
    });
    type_into(&mut ui, "Saldo inicial (dólares)", "100");
    click(&mut ui, "Aceptar");
    wait_for(&mut ui, "la sala con bob en la lista", |app| {
        app.model.view == View::Chat && app.model.users.contains("bob")
    });
    bob.expect("[SERVER] Client: ana connected!");

    // Quién es: nombre, IP y los dos puertos, reales.
    wait_for(&mut ui, "el puerto UDP", |app| {
        app.model
            .identity
            .as_ref()
            .is_some_and(|me| me.udp_port.is_some())
    });
    let me = ui.state().model.identity.clone().expect("identidad");
    assert!(shows(&ui, "Bienvenido ana"));
    assert!(shows(&ui, &format!("Puerto TCP: {}", me.me.port())));
    assert!(shows(&ui, "Saldo: 100 dólares"));

    // Un mensaje público, con Enter.
    type_into(&mut ui, "Mensaje", "hola a todos :smile");
    press_enter(&mut ui);
    bob.expect("ana: hola a todos :~)");
    wait_for(&mut ui, "el mensaje propio", |app| {
        app.model
            .history
            .iter()
            .any(|e| e.text == "Me: hola a todos :~)")
    });

    // Un privado a bob por TCP, y otro por UDP.
    click(&mut ui, "bob");
    type_into(&mut ui, "Mensaje", "secreto por tcp");
    click(&mut ui, "Enviar");
    bob.expect("[PRIVATE] ana: secreto por tcp");
    click(&mut ui, "UDP");
    type_into(&mut ui, "Mensaje", "secreto por udp");
    click(&mut ui, "Enviar");
    bob.expect("[PRIVATE] ana: secreto por udp");
    wait_for(&mut ui, "las líneas por UDP", |app| {
        app.model.travel() == Transport::Udp
    });
    assert!(shows(&ui, "Me (privado a bob): secreto por udp"));
    click(&mut ui, "TCP");

    // Una transferencia que sale bien y una sin fondos.
    click(&mut ui, "A quién");
    // bob está dos veces: en la lista de conectados y en el menú abierto,
    // que es el que queda justo debajo del selector.
    let below = ui.get_by_label("A quién").rect().bottom();
    let options: Vec<_> = ui.get_all_by_label("bob").collect();
    assert!(options.len() >= 2, "bob está en la lista y en el menú");
    let distance = |node: &egui_kittest::Node<'_>| (node.rect().top() - below).abs();
    let option = options
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .expect("bob en el menú");
    option.click();
    ui.run_steps(2);
    assert_eq!(ui.state().model.transfer_to, "bob");
    type_into(&mut ui, "Monto (dólares)", "30");
    click(&mut ui, "Transferir");
    wait_for(&mut ui, "la transferencia hecha", |app| {
        matches!(app.model.transfer_result, Some(Ok(_))) && app.model.balance == Some(70)
    });
    bob.expect("[SERVER] Client: ana transferred 30 dollars to you. You have 80 dollars.");
    type_into(&mut ui, "Monto (dólares)", "1000");
    click(&mut ui, "Transferir");
    wait_for(&mut ui, "el error de fondos", |app| {
        matches!(app.model.transfer_result, Some(Err(_)))
    });
    assert_eq!(ui.state().model.balance, Some(70));
    assert!(shows(&ui, "Saldo: 70 dólares"));

    // Lo que recibe también cambia el saldo.
    bob.send(":t ana 5");
    wait_for(&mut ui, "el saldo tras recibir", |app| {
        app.model.balance == Some(75)
    });

    // Alguien entra y sale: la lista lo sigue.
    let mut eva = Peer::join(addr, "eva", 1);
    wait_for(&mut ui, "eva en la lista", |app| {
        app.model.users.contains("eva")
    });
    assert!(shows(&ui, "eva"));
    eva.send(":q");
    wait_for(&mut ui, "eva fuera de la lista", |app| {
        !app.model.users.contains("eva")
    });

    // Salir envía :q y cierra.
    click(&mut ui, "Salir");
    bob.expect("[SERVER] Client: ana disconnected!");
    wait_for(&mut ui, "la ventana cerrada", |app| app.closed);
    assert!(
        console
            .lock()
            .expect("consola")
            .iter()
            .any(|l| l.contains("ana uses UDP"))
    );
}

#[test]
fn a_server_that_goes_away_is_shown_in_the_window() {
    // Un servidor falso: saluda, deja entrar y corta.
    let listener = TcpListener::bind("127.0.0.1:0").expect("escuchar");
    let addr = listener.local_addr().expect("dirección");
    let fake = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("aceptar");
        let mut reader = BufReader::new(stream.try_clone().expect("clonar"));
        let mut out = stream;
        writeln!(out, "{}", Event::Prompt).expect("saludo");
        let mut login = String::new();
        reader.read_line(&mut login).expect("leer");
        writeln!(out, "{}\n{}", Event::Welcome, Event::Funds(10)).expect("entrada");
        let mut users = String::new();
        reader.read_line(&mut users).expect("el :u de la ventana");
        login
    });
    let mut ui = window(addr);
    sign_in_with_keyboard(&mut ui, "ana", "x");
    wait_for(&mut ui, "la sala", |app| app.model.view == View::Chat);
    assert_eq!(fake.join().expect("servidor falso").trim(), ":login ana x");
    wait_for(&mut ui, "el fin de la sesión", |app| {
        app.model.ended.is_some()
    });
    assert!(shows(&ui, "Se perdió la conexión con el servidor."));
    assert!(!ui.state().model.in_room(), "ya no se puede escribir");
}

#[test]
fn an_unreachable_server_is_an_error_beside_the_buttons() {
    // Un puerto que nadie escucha: se abre y se cierra un listener.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("puerto libre");
    let mut ui = window(addr);
    sign_in_with_keyboard(&mut ui, "ana", "x");
    wait_for(&mut ui, "el error de conexión", |app| {
        app.model.sign_in_error.is_some()
    });
    assert!(shows(&ui, "No se pudo conectar con"));
}

/// Reemplaza lo que tenga el campo con el foco por `text`, con el teclado
/// solo (seleccionar todo y escribir): si ningún campo tiene el foco, no
/// cambia nada.
fn retype_with_keyboard(harness: &mut Harness<'_, App>, text: &str) {
    harness.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    harness.run_steps(1);
    harness.event(egui::Event::Text(text.to_string()));
    harness.run_steps(2);
}

/// Tras un error (una contraseña equivocada, un saldo que no sirve), el
/// teclado sigue en el campo donde se apretó Enter: se corrige y se
/// vuelve a apretar Enter, sin el ratón. Antes, Enter soltaba el foco y lo
/// escrito después no iba a ningún campo.
#[test]
fn after_an_error_the_keyboard_stays_in_its_field() {
    let dir = tempfile::tempdir().expect("directorio temporal");
    let (addr, _console) = real_server(dir.path());
    let mut ui = window(addr);
    sign_in_with_keyboard(&mut ui, "ana", "clave-ana");
    wait_for(&mut ui, "el error de la contraseña", |app| {
        app.model.sign_in_error.is_some()
    });
    retype_with_keyboard(&mut ui, "otra-clave");
    assert_eq!(ui.state().model.password, "otra-clave");

    click(&mut ui, "Register");
    wait_for(&mut ui, "la pregunta del saldo", |app| {
        app.model.view == View::Balance
    });
    retype_with_keyboard(&mut ui, "mucho");
    press_enter(&mut ui);
    wait_for(&mut ui, "el error del saldo", |app| {
        app.model.balance_error.is_some()
    });
    retype_with_keyboard(&mut ui, "100");
    assert_eq!(ui.state().model.balance_input, "100");
    press_enter(&mut ui);
    wait_for(&mut ui, "la sala", |app| app.model.view == View::Chat);
}
