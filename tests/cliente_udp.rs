//! El cliente y UDP (issue #16): el modo `--udp` mantiene viva la sesión
//! de quien solo lee, se rinde con un error claro si nadie responde, y en
//! modo TCP lo enviado por UDP llega antes que el `:q` que va por TCP.

mod common;

use common::{PATIENCE, Running, Server, UdpClient};
use std::io::Write;
#[cfg(feature = "extra")]
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
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

// Solo el programa completo: `--udp-keepalive-secs` es una opción del cliente completo.
#[cfg(feature = "extra")]
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
        // El cliente completo repite la línea al que calla, avisando; al
        // puerto cerrado no: el sistema ya dijo que nadie escucha. El del
        // curso no repite nada: espera la respuesta una vez, con su tope.
        // La salida la leyó el hilo de `Running`: se juntan sus líneas.
        let stdout: Vec<String> = cliente.lines.iter().collect();
        let stdout = stdout.join("\n");
        assert_eq!(
            stdout.contains("Sending it again (10/10)."),
            cfg!(feature = "extra") && addr == silent_addr,
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

/// El código de salida de `child`, que tiene que terminar solo antes de
/// [`PATIENCE`]; si no, se lo mata y la prueba falla.
fn exit_code(child: &mut Child) -> Option<i32> {
    exit_code_within(child, PATIENCE)
}

/// Como [`exit_code`], con otro plazo.
fn exit_code_within(child: &mut Child, patience: Duration) -> Option<i32> {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("el cliente no terminó en {patience:?}");
}

/// Un usuario de `cliente --udp` ya en la sala, con la entrada abierta.
fn udp_user(server: &Server, name: &str) -> Running {
    let addr = server.addr.to_string();
    let mut cliente = Running::start(&["--udp", "--addr", &addr]);
    cliente.send(&format!(":register {name} clave-{name}\n5\n"));
    cliente.expect("[SERVER] Client: The balance of 5 has been set to your account.");
    cliente
}

#[test]
fn a_typed_quit_after_a_failed_sign_in_ends_the_udp_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.to_string();
    let mut cliente = Running::start(&["--udp", "--addr", &addr]);
    // Escrito, no el fin de la entrada: la entrada sigue abierta.
    cliente.send(":login nadie clave-nadie-x\n");
    cliente.expect("[SERVER] Client: Wrong name or password.");
    cliente.send(":q\n");
    assert_eq!(exit_code(&mut cliente.child), Some(0));
}

// Solo el programa completo: el apagado ordenado con SIGTERM es de `extra/shutdown.rs`.
#[cfg(feature = "extra")]
#[test]
fn the_udp_client_leaves_with_code_4_when_the_server_shuts_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let mut ana = udp_user(&server, "ana");
    server.signal(libc::SIGTERM);
    ana.expect("[SERVER] Client: The server is shutting down.");
    assert_eq!(exit_code(&mut ana.child), Some(4));
    let mut stderr = String::new();
    std::io::Read::read_to_string(ana.child.stderr.as_mut().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(stderr.contains("The server shut down."), "{stderr}");
    let _ = server.wait_exit();
}

#[test]
fn a_udp_client_replaced_by_a_sign_in_elsewhere_leaves_with_code_8() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut ana = udp_user(&server, "ana");
    let again = UdpClient::new(server.addr);
    assert_eq!(
        again.ask(":login ana clave-ana"),
        "Welcome to the best chat in the universe!"
    );
    ana.expect("[SERVER] Client: You signed in from another address, so this session was closed.");
    assert_eq!(exit_code(&mut ana.child), Some(8));
}

/// Un servidor de mentira, para perder a propósito respuestas precisas:
/// lo que le llega y lo que responde, datagrama por datagrama.
#[cfg(feature = "extra")]
struct FakeServer {
    socket: UdpSocket,
    client: Option<SocketAddr>,
}

#[cfg(feature = "extra")]
impl FakeServer {
    fn new() -> FakeServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
        FakeServer {
            socket,
            client: None,
        }
    }

    /// El próximo datagrama, sin el relleno ni el `\n`.
    fn receive(&mut self) -> String {
        let mut buffer = [0u8; 2048];
        let (n, from) = self.socket.recv_from(&mut buffer).expect("un datagrama");
        self.client = Some(from);
        String::from_utf8_lossy(&buffer[..n]).trim_end().to_string()
    }

    fn reply(&self, line: &str) {
        let to = self.client.expect("alguien escribió");
        self.socket
            .send_to(format!("{line}\n").as_bytes(), to)
            .expect("send_to");
    }
}

// Solo el programa completo: el cliente del curso no repite lo que UDP
// pierde (`extra/cliente/recovery.rs` sí).
#[cfg(feature = "extra")]
#[test]
fn the_udp_client_repeats_a_sign_in_whose_token_was_lost_and_asks_before_repeating_a_balance() {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let mut fake = FakeServer::new();
    let addr = fake.socket.local_addr().expect("addr").to_string();
    let mut cliente = Running::start(&["--udp", "--addr", &addr]);
    cliente.send(":register ana clave-ana\n100\nhola\n");
    assert_eq!(fake.receive(), ":register ana clave-ana");
    // Llega la respuesta, menos el token.
    fake.reply("Welcome to the best chat in the universe!");
    fake.reply("[SERVER] Client: What is your balance?");
    // Sin token no hay nada que enviar: el cliente repite la entrada (el
    // servidor de verdad responde lo mismo), y no envía el saldo sin token.
    assert_eq!(fake.receive(), ":register ana clave-ana");
    fake.reply("Welcome to the best chat in the universe!");
    fake.reply(&format!("[SERVER] Client: Your token is {TOKEN}."));
    fake.reply("[SERVER] Client: What is your balance?");
    assert_eq!(fake.receive(), format!("{TOKEN} 100"));
    // La respuesta al saldo se pierde. Repetirlo sería, si el servidor sí
    // lo tomó, un mensaje "100" a la sala: el cliente pregunta antes.
    assert_eq!(fake.receive(), format!("{TOKEN} :funds"));
    fake.reply("[SERVER] Client: You have 100 dollars.");
    assert_eq!(fake.receive(), format!("{TOKEN} hola"));
    cliente.expect("[SERVER] Client: You have 100 dollars.");
}

#[cfg(feature = "extra")]
/// Lo que hizo una corrida de `cliente --udp --loss 0.3 --seed N`.
struct LossyRun {
    seed: u64,
    code: Option<i32>,
    took: Duration,
    /// Los números de las líneas que mostró como enviadas (`Me: linea N`).
    shown: Vec<u32>,
    stdout: String,
}

#[cfg(feature = "extra")]
/// `cliente --udp` con la entrada de un guion (entrar, el saldo, 197 líneas,
/// `:q`), perdiendo a propósito 3 de cada 10 datagramas que envía y que
/// recibe, con la semilla `seed`.
fn lossy_run(addr: &str, seed: u64) -> LossyRun {
    let mut script = format!(":register u{seed} clave-{seed}\n100\n");
    for i in 1..=197 {
        script.push_str(&format!("linea {i}\n"));
    }
    script.push_str(":q\n");
    let started = Instant::now();
    let seed_text = seed.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args([
            "--udp", "--addr", addr, "--loss", "0.3", "--seed", &seed_text,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cliente");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(script.as_bytes()).expect("guion");
    drop(stdin);
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let code = exit_code_within(&mut child, Duration::from_secs(40));
    let took = started.elapsed();
    let stdout = reader.join().expect("lector");
    let shown = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Me: linea "))
        .filter_map(|n| n.parse().ok())
        .collect();
    LossyRun {
        seed,
        code,
        took,
        shown,
        stdout,
    }
}

// Solo el programa completo: la pérdida a pedido (`--loss`) es del laboratorio.
#[cfg(feature = "extra")]
/// El guion de 200 líneas por UDP con 30 % de pérdida en cada sentido,
/// con las semillas 1 a 50, a la vez contra un mismo servidor: ninguno se
/// cuelga, cada uno termina antes de 30 s con un código documentado, y de
/// lo que muestra como enviado, lo que llega a la sala llega una vez y en
/// orden (UDP sin `--reliable` pierde líneas: eso es lo que promete).
#[test]
fn with_30_percent_loss_fifty_piped_udp_clients_all_end_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.to_string();
    let mut watcher = server.join("testigo", 1);
    watcher
        .stream()
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let (lines, heard) = std::sync::mpsc::channel();
    let watching = std::thread::spawn(move || {
        loop {
            let line = watcher.line();
            if line == "marcador: fin" {
                return;
            }
            let _ = lines.send(line);
        }
    });

    let runs: Vec<LossyRun> = (1..=50u64)
        .map(|seed| {
            let addr = addr.clone();
            std::thread::spawn(move || lossy_run(&addr, seed))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|run| run.join().expect("corrida"))
        .collect();

    // Todo lo enviado ya está en el socket del servidor, que atiende los
    // datagramas en orden: cuando responde a uno nuevo, ya atendió todos.
    let probe = UdpClient::new(server.addr);
    assert!(probe.ask(":help").contains("Commands:"));
    let mut marker = server.join("marcador", 1);
    marker.send("fin");
    watching.join().expect("testigo");

    let mut arrived: std::collections::HashMap<String, Vec<u32>> = Default::default();
    for line in heard.try_iter() {
        if let Some((name, n)) = line.split_once(": linea ") {
            let n = n.parse().expect("número");
            arrived.entry(name.to_string()).or_default().push(n);
        }
    }
    let documented = [0, 1, 3, 4, 5, 6, 7, 8];
    let mut left = 0;
    for run in &runs {
        let seed = run.seed;
        assert!(
            run.code.is_some_and(|c| documented.contains(&c)),
            "semilla {seed}: código {:?}\n{}",
            run.code,
            run.stdout
        );
        assert!(
            run.took < Duration::from_secs(30),
            "semilla {seed}: {:?}",
            run.took
        );
        left += usize::from(run.code == Some(0));
        let got = arrived.remove(&format!("u{seed}")).unwrap_or_default();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "semilla {seed}: desordenadas o repetidas: {got:?}\n{}",
            run.stdout
        );
        let unshown: Vec<&u32> = got.iter().filter(|n| !run.shown.contains(n)).collect();
        assert!(
            unshown.is_empty(),
            "semilla {seed}: llegaron sin mostrarse como enviadas: {unshown:?}\n{}",
            run.stdout
        );
    }
    let slowest = runs.iter().map(|r| r.took).max().unwrap_or_default();
    eprintln!("{left} de 50 terminaron con código 0; la más lenta tardó {slowest:?}");
    // Casi todas entran, envían y salen con su despedida: la pérdida se
    // lleva algunas líneas del chat, no la sesión.
    assert!(left >= 45, "solo {left} de 50 terminaron con código 0");
}

#[test]
fn small_mistakes_get_a_clear_word_and_the_right_exit_code() {
    // Sin puerto: opciones inválidas (2), diciendo qué falta.
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--udp", "--addr", "127.0.0.1"])
        .output()
        .expect("cliente");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("falta el puerto: HOST:PUERTO, por ejemplo 127.0.0.1:5500"),
        "{stderr}"
    );
    // La entrada termina antes de entrar: no había sesión que perder.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let output = Command::new(env!("CARGO_BIN_EXE_cliente"))
        .args(["--udp", "--addr", &server.addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("cliente");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("lost"), "{stderr}");
}
