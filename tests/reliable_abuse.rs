//! El modo confiable de UDP contra un atacante del aula: alguien que abre
//! pares desde muchas direcciones del loopback y les envía datagramas
//! adelantados y enormes, para que el servidor los guarde esperando el
//! hueco que nunca llega. La memoria del servidor (su RSS, leído de
//! `/proc`) queda acotada por el techo de las colas, los pares que no
//! acusan nada se olvidan en segundos, y `:stats` lo muestra. Aquí también
//! lo que exige hablar el modo confiable a mano desde un socket crudo: una
//! sesión que se muda a otro puerto conserva su secuencia, y quien
//! falsifica el origen de otro no consigue nada.
//!
//! Solo el programa completo: la entrega confiable y sus topes son del laboratorio, `extra/laboratorio/`.
#![cfg(feature = "extra")]

mod common;

use common::{Client, PATIENCE, Running, Server, cookie_in};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// La memoria residente del proceso `pid`, en bytes (`VmRSS` de
/// `/proc/<pid>/status`).
/// Un socket UDP crudo que habla el modo confiable a mano: envía
/// `line` (con lo que vaya delante) a `server` y devuelve las líneas que
/// llegan hasta una que cumple `done` (o la cookie, si la pide).
fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    line: &str,
    done: impl Fn(&str) -> bool,
) -> Vec<String> {
    socket
        .send_to(format!("{line:<63}\n").as_bytes(), server)
        .expect("send");
    let mut seen = Vec::new();
    loop {
        for got in receive(socket).lines() {
            let got = got.trim_end().to_string();
            let stop = done(&got) || cookie_in(&got).is_some();
            seen.push(got);
            if stop {
                return seen;
            }
        }
    }
}

/// ana entra por el modo confiable desde un socket, y su sesión se muda a
/// otro (como tras un NAT que cambia el puerto): con la cookie de la
/// dirección nueva, su par se muda con ella, y lo que envía desde ahí, sin
/// el número inicial (ya lo dio), sigue en la misma secuencia. Un par nuevo
/// lo tiraría: no sabría desde dónde contar.
#[test]
fn a_reliable_session_that_moves_keeps_its_sequence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--hash-cost", "minimal"]);
    let mut carol = server.join("carol", 10);
    let home = UdpSocket::bind("127.0.0.1:0").expect("bind");
    home.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let register = ":seq 0/0 :register ana clave-ana";
    let first = exchange(&home, server.addr, register, |_| false);
    let cookie = cookie_in(first.last().expect("algo")).expect("la cookie");
    let welcome = exchange(&home, server.addr, &format!("{cookie} {register}"), |l| {
        l.ends_with("What is your balance?")
    });
    let token = welcome
        .iter()
        .find_map(|l| {
            l.split_once("Your token is ")
                .map(|(_, t)| t.trim_end_matches('.').to_string())
        })
        .unwrap_or_else(|| panic!("sin token en {welcome:?}"));
    exchange(&home, server.addr, &format!("{token} :seq 1 5"), |l| {
        l.ends_with("has been set to your account.")
    });
    carol.expect("[SERVER] Client: ana connected!");

    let moved = UdpSocket::bind("127.0.0.1:0").expect("bind");
    moved.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let hello = format!("{token} :seq 2 hola desde el puerto nuevo");
    let asked = exchange(&moved, server.addr, &hello, |_| false);
    let cookie = cookie_in(asked.last().expect("algo")).expect("pide la prueba");
    exchange(&moved, server.addr, &format!("{cookie} {hello}"), |l| {
        l.starts_with(":ack 3")
    });
    carol.expect("ana: hola desde el puerto nuevo");
    carol.send("hola, ana");
    // Lo que la sala le envía ahora sale hacia el puerto nuevo, numerado.
    loop {
        let got = receive(&moved);
        if got.starts_with(":seq ") && got.ends_with(" carol: hola, ana") {
            break;
        }
    }
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// El número que sigue a `key=` en las líneas de `:stats` de `client`
/// (saltando los avisos que lleguen en medio).
fn stat(client: &mut Client, key: &str) -> u64 {
    client.send(":stats");
    let mut value = None;
    let mut seen = 0;
    while seen < 4 {
        let line = client.line();
        if !line.starts_with("[SERVER] Client: Stats: ") {
            continue;
        }
        seen += 1;
        if let Some(found) = line
            .split_whitespace()
            .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        {
            value = found.parse().ok();
        }
    }
    value.unwrap_or_else(|| panic!("falta {key} en :stats"))
}

/// Un par confiable abierto desde `source`: pide la cookie, abre el par
/// con `:seq 0/0` (la primera línea de una secuencia que empieza en 0,
/// entregada en orden) y devuelve el socket y la cookie.
fn open_pair(server: SocketAddr, source: IpAddr) -> (UdpSocket, String) {
    let socket = UdpSocket::bind((source, 0)).expect("bind");
    socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
    socket
        .send_to(format!("{:<63}\n", ":seq 0 :ping").as_bytes(), server)
        .expect("send");
    let cookie = loop {
        if let Some(cookie) = cookie_in(&receive(&socket)) {
            break cookie;
        }
    };
    socket
        .send_to(format!("{cookie} :seq 0/0 hola\n").as_bytes(), server)
        .expect("send");
    wait_for_ack(&socket);
    (socket, cookie)
}

fn receive(socket: &UdpSocket) -> String {
    let mut buffer = vec![0u8; 70_000];
    let (n, _) = socket.recv_from(&mut buffer).expect("sin respuesta");
    String::from_utf8_lossy(&buffer[..n]).trim_end().to_string()
}

/// Espera el próximo acuse (`:ack 1 ...`), saltando lo demás.
fn wait_for_ack(socket: &UdpSocket) {
    while !receive(socket).starts_with(":ack 1") {}
}

/// Marca el paso: envía desde `marker` (otro socket, sin probar) un
/// `:login` y espera su respuesta, la cookie. El servidor atiende los
/// datagramas en orden, en un hilo: cuando llega la cookie, ya atendió
/// todo lo que el atacante envió antes. Si el kernel tiró algo (un búfer
/// de recepción lleno), se vuelve a enviar, hasta [`PATIENCE`].
fn pace(marker: &UdpSocket, server: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        marker
            .send_to(format!("{:<63}\n", ":login marca clave").as_bytes(), server)
            .expect("send");
        let mut buffer = vec![0u8; 70_000];
        if let Ok((n, _)) = marker.recv_from(&mut buffer) {
            let reply = String::from_utf8_lossy(&buffer[..n]);
            assert!(cookie_in(reply.trim_end()).is_some(), "{reply}");
            return;
        }
    }
    panic!("el servidor no responde");
}

/// Envía de `socket` los datagramas adelantados `:seq 2..=last` de
/// `payload` bytes, sin el 1 que los dejaría entregar, cada uno seguido de
/// [`pace`]: la prueba mide lo que el servidor decide guardar, no lo que
/// el kernel tira.
fn flood_ahead(socket: &UdpSocket, server: SocketAddr, cookie: &str, last: u32, payload: usize) {
    let marker = UdpSocket::bind("127.0.0.1:0").expect("bind");
    marker
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let filler = "x".repeat(payload);
    for seq in 2..=last {
        socket
            .send_to(format!("{cookie} :seq {seq} {filler}\n").as_bytes(), server)
            .expect("send");
        pace(&marker, server);
    }
}

#[test]
fn huge_datagrams_ahead_from_many_addresses_do_not_grow_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Sin límite de líneas: los `:login` que marcan el paso no se descartan.
    let server = Server::start(
        dir.path(),
        &["--hash-cost", "minimal", "--max-lines-per-sec", "0"],
    );
    let mut alice = server.join("alice", 10);
    let before = rss_bytes(server.pid());
    // 20 pares de 20 direcciones, 127 datagramas adelantados de 60.000
    // bytes cada uno: el código anterior guardaba unos 7,3 MiB por par.
    for i in 0..20u8 {
        let source = IpAddr::from([127, 0, 3, 10 + i]);
        let (socket, cookie) = open_pair(server.addr, source);
        flood_ahead(&socket, server.addr, &cookie, 128, 60_000);
    }
    let grew = rss_bytes(server.pid()).saturating_sub(before);
    println!("RSS creció {} KiB", grew / 1024);
    assert!(
        grew < 64 * 1024 * 1024 + 16 * 1024 * 1024,
        "el servidor creció {} MiB",
        grew / (1024 * 1024)
    );
    assert_eq!(stat(&mut alice, "reliable_pairs"), 20);
    // Lo único que guardan son las respuestas del servidor sin acuse (el
    // aviso a cada `hola` sin token): nada de lo adelantado.
    let held = stat(&mut alice, "reliable_bytes");
    assert!(held < 20 * 1000, "los pares guardan {held} bytes");
    assert!(stat(&mut alice, "reliable_refused") >= 20 * 127);
}

#[test]
fn what_pairs_keep_ahead_stays_under_the_ceiling_and_unacknowledging_pairs_are_forgotten() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Un techo de 1 MiB: 40 pares con 31 líneas de 4 KiB adelantadas
    // guardarían 5 MiB.
    let ceiling = 1024 * 1024;
    let server = Server::start(
        dir.path(),
        &[
            "--hash-cost",
            "minimal",
            "--max-total-queue-bytes",
            &ceiling.to_string(),
            "--max-lines-per-sec",
            "0",
        ],
    );
    let mut alice = server.join("alice", 10);
    for i in 0..40u8 {
        let source = IpAddr::from([127, 0, 4, 10 + i]);
        let (socket, cookie) = open_pair(server.addr, source);
        flood_ahead(&socket, server.addr, &cookie, 40, 4000);
    }
    let held = stat(&mut alice, "reliable_bytes");
    println!("los pares guardan {held} bytes");
    assert!(held > 0 && held <= ceiling, "{held} bytes");
    // Ninguno acusó nada del servidor: en segundos (el plazo de prueba,
    // 10 s) se olvidan, y con ellos lo que guardaban.
    let deadline = Instant::now() + PATIENCE * 2;
    while stat(&mut alice, "reliable_pairs") > 0 {
        assert!(Instant::now() < deadline, "los pares siguen ahí");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(stat(&mut alice, "reliable_bytes"), 0);
}

/// Envía `payload` por UDP a `to` con el origen `127.0.0.1:<from_port>`,
/// aunque ese puerto sea de otro socket: con un socket crudo
/// (`SOCK_RAW`, `IPPROTO_UDP`), que pide ser root (o `CAP_NET_RAW`). Es lo
/// que hace un atacante que falsifica el origen: puede enviar con la
/// dirección de su víctima, pero no recibe lo que el servidor le responde
/// a ella. `None` si el kernel no da el socket crudo (sin permisos).
fn forge(from_port: u16, to: SocketAddr, payload: &[u8]) -> Option<()> {
    // La cabecera UDP (RFC 768): origen, destino, largo y suma de control
    // (0 = sin suma, permitido en IPv4). La cabecera IP la pone el kernel,
    // con el origen 127.0.0.1 (la ruta hacia el loopback).
    let mut datagram = Vec::with_capacity(8 + payload.len());
    datagram.extend_from_slice(&from_port.to_be_bytes());
    datagram.extend_from_slice(&to.port().to_be_bytes());
    datagram.extend_from_slice(&u16::try_from(8 + payload.len()).ok()?.to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(payload);
    let IpAddr::V4(ip) = to.ip() else { return None };
    // SAFETY: llamadas directas al sistema con búferes y estructuras
    // válidas durante cada llamada; el descriptor se cierra al final.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP);
        if fd < 0 {
            return None;
        }
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes(ip.octets());
        let sent = libc::sendto(
            fd,
            datagram.as_ptr().cast(),
            datagram.len(),
            0,
            std::ptr::addr_of!(addr).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        libc::close(fd);
        (sent == datagram.len() as isize).then_some(())
    }
}

/// Envía cada uno de `datagrams` con el origen `127.0.0.1:<from_port>`
/// (ver [`forge`]). `false` si no hay socket crudo: la prueba lo dice y no
/// sigue (sin root no se puede falsificar el origen).
fn forge_all(from_port: u16, to: SocketAddr, datagrams: &[String]) -> bool {
    for datagram in datagrams {
        if forge(from_port, to, datagram.as_bytes()).is_none() {
            eprintln!("sin socket crudo (hace falta root): no se puede falsificar el origen");
            return false;
        }
    }
    true
}

/// Un servidor (sin límite de líneas) con alice por TCP y bob por el modo
/// confiable, los dos en la sala: la víctima y quien mira.
fn alice_and_reliable_bob() -> (tempfile::TempDir, Server, Client, Victim) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &["--hash-cost", "minimal", "--max-lines-per-sec", "0"],
    );
    let mut alice = server.join("alice", 10);
    let bob = Victim::register(server.addr, "bob", 10);
    alice.expect("[SERVER] Client: bob connected!");
    (dir, server, alice, bob)
}

/// Un cliente del modo confiable escrito a mano, como el de un alumno:
/// numera lo que envía desde 0 (con la cookie y, desde que lo tiene, el
/// token delante, y siempre con su número inicial, `/0`), y acusa lo que
/// recibe en orden, contando desde el número inicial del servidor. Sin pérdidas (el loopback sin
/// laboratorio), así que no retransmite. `hold_acks`: no acusa nada, para
/// dejar datos del servidor en vuelo.
struct Victim {
    socket: UdpSocket,
    server: SocketAddr,
    cookie: String,
    token: Option<String>,
    next_out: u32,
    /// El próximo número que se espera del servidor, desde su primer
    /// datagrama (que trae su número inicial).
    next_in: Option<u32>,
    hold_acks: bool,
    /// Con el token, deja de poner la cookie delante, como el cliente.
    token_only: bool,
}

impl Victim {
    /// Registra `name` (clave `pw-<name>`) con `dollars` por el modo
    /// confiable, desde `127.0.0.1`.
    fn register(server: SocketAddr, name: &str, dollars: u64) -> Victim {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let register = format!(":seq 0/0 :register {name} pw-{name}");
        socket
            .send_to(format!("{register:<63}\n").as_bytes(), server)
            .expect("send");
        let cookie = cookie_in(&receive(&socket)).expect("la cookie");
        let mut victim = Victim {
            socket,
            server,
            cookie,
            token: None,
            next_out: 0,
            next_in: None,
            hold_acks: false,
            token_only: false,
        };
        victim.send(&format!(":register {name} pw-{name}"));
        let token_line = victim.until(|l| l.starts_with("[SERVER] Client: Your token is "));
        victim.token = token_line
            .strip_prefix("[SERVER] Client: Your token is ")
            .map(|t| t.trim_end_matches('.').to_string());
        victim.until(|l| l == "[SERVER] Client: What is your balance?");
        victim.send(&dollars.to_string());
        victim.until(|l| l.starts_with("[SERVER] Client: The balance of"));
        victim
    }

    /// Espera a que el servidor haya atendido todo lo enviado hasta ahora
    /// (responde a una marca, y atiende en orden) y tira lo que le llegó a
    /// este socket hasta entonces.
    fn forget_what_arrived(&self) {
        let marker = UdpSocket::bind("127.0.0.1:0").expect("bind");
        marker
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        pace(&marker, self.server);
        self.socket.set_nonblocking(true).expect("nonblocking");
        let mut buffer = vec![0u8; 70_000];
        while self.socket.recv_from(&mut buffer).is_ok() {}
        self.socket.set_nonblocking(false).expect("blocking");
    }

    fn proof(&self) -> String {
        match &self.token {
            Some(token) if self.token_only => token.clone(),
            Some(token) => format!("{} {token}", self.cookie),
            None => self.cookie.clone(),
        }
    }

    fn send(&mut self, line: &str) {
        let datagram = format!("{} :seq {}/0 {line}\n", self.proof(), self.next_out);
        self.socket
            .send_to(datagram.as_bytes(), self.server)
            .expect("send");
        self.next_out += 1;
    }

    /// Lo próximo nuevo que llega, acusando cada línea en orden: el número
    /// de secuencia y la línea. Una copia de algo ya recibido se acusa otra
    /// vez y se salta: la sonda del servidor vence en milisegundos, y en
    /// una máquina cargada puede reenviar algo cuyo acuse todavía viaja.
    fn next_line(&mut self) -> (u32, String) {
        loop {
            let (seq, line, repeated) = self.next_datagram();
            if !repeated {
                return (seq, line);
            }
        }
    }

    /// Lo próximo que llega con el número `seq`, aunque ya se haya recibido
    /// (una retransmisión).
    fn retransmission_of(&mut self, seq: u32) -> String {
        loop {
            let (got, line, _) = self.next_datagram();
            if got == seq {
                return line;
            }
        }
    }

    /// El próximo datagrama numerado: su número, su línea y si ya se había
    /// recibido; se acusa, salvo con `hold_acks`.
    fn next_datagram(&mut self) -> (u32, String, bool) {
        loop {
            let datagram = receive(&self.socket);
            let Some(rest) = datagram.strip_prefix(":seq ") else {
                continue;
            };
            let (numbers, line) = rest.split_once(' ').unwrap_or((rest, ""));
            let (seq, start) = numbers.split_once('/').unwrap_or((numbers, ""));
            let seq: u32 = seq.parse().expect("número");
            let next = self
                .next_in
                .get_or_insert_with(|| start.parse().expect("el número inicial"));
            let repeated = seq < *next;
            if seq == *next {
                *next += 1;
            }
            let next = *next;
            if !self.hold_acks {
                let ack = format!("{} :ack {next}\n", self.proof());
                self.socket
                    .send_to(ack.as_bytes(), self.server)
                    .expect("send");
            }
            return (seq, line.to_string(), repeated);
        }
    }

    fn until(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let (_, line) = self.next_line();
            if wanted(&line) {
                return line;
            }
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().expect("local_addr").port()
    }
}

#[test]
fn datagrams_forged_with_a_reliable_users_address_create_nothing_and_steal_nothing() {
    let (dir, server, mut alice, mut bob) = alice_and_reliable_bob();
    // 128 datagramas con el origen de bob: cada número de secuencia
    // posible cerca del suyo, cada uno un `:register` a ciegas.
    let forged: Vec<String> = (0..128)
        .map(|k| format!(":seq {k} :register blind{k} clave-blind-{k}\n"))
        .collect();
    if !forge_all(bob.port(), server.addr, &forged) {
        return;
    }
    // Lo que bob envía después llega a la sala, todo.
    for i in 0..10 {
        bob.send(&format!("línea {i}"));
        alice.expect(&format!("bob: línea {i}"));
    }
    let journal = std::fs::read_to_string(dir.path().join("diario.jsonl")).expect("diario");
    assert!(!journal.contains("blind"), "cuentas creadas a ciegas");
}

#[test]
fn a_forged_ack_does_not_make_the_server_forget_what_it_has_in_flight() {
    let (_dir, server, mut alice, mut bob) = alice_and_reliable_bob();
    // bob recibe la línea de alice pero no la acusa todavía.
    bob.hold_acks = true;
    alice.send("uno");
    let (seq, line) = bob.next_line();
    assert_eq!(line, "alice: uno");
    // Un acuse falso con el origen de bob: "recibí todo hasta 99.999", y
    // otro justo después de esa línea.
    let forged = [":ack 100000\n".to_string(), format!(":ack {}\n", seq + 1)];
    if !forge_all(bob.port(), server.addr, &forged) {
        return;
    }
    // Lo que bob recibió antes de que el servidor atendiera los acuses
    // falsos (las sondas, que vencen en milisegundos) no cuenta.
    bob.forget_what_arrived();
    // El servidor no la olvidó: la retransmite hasta que bob la acuse.
    bob.hold_acks = false;
    assert_eq!(bob.retransmission_of(seq), "alice: uno");
}

#[test]
fn reliable_users_that_stop_acknowledging_are_cut_like_tcp_clients_that_stop_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &["--hash-cost", "minimal", "--max-lines-per-sec", "0"],
    );
    let mut alice = server.join("alice", 10);
    // 20 usuarios confiables que entran (acusando) y después no acusan más.
    let mut quiet = Vec::new();
    for i in 0..20 {
        let name = format!("mudo{i}");
        let mut victim = Victim::register(server.addr, &name, 1);
        alice.expect(&format!("[SERVER] Client: {name} connected!"));
        victim.hold_acks = true;
        quiet.push(victim);
    }
    let before = rss_bytes(server.pid());
    // alice envía 2000 líneas de 4000 bytes: 8 MB para cada uno. El código
    // anterior guardaba hasta 4096 líneas por par, fuera de los límites.
    let text = "z".repeat(4000);
    for _ in 0..2000 {
        alice.send(&text);
    }
    // Cada uno pasa su límite de 1 MiB y se corta, como un cliente TCP
    // que no lee; los demás se enteran de que se fue.
    let deadline = Instant::now() + PATIENCE * 3;
    while stat(&mut alice, "overflow_disconnects") < 20 {
        assert!(Instant::now() < deadline, "no se cortó a los que no acusan");
        std::thread::sleep(Duration::from_millis(200));
    }
    let grew = rss_bytes(server.pid()).saturating_sub(before);
    println!("RSS creció {} KiB", grew / 1024);
    assert!(
        grew < 64 * 1024 * 1024 + 16 * 1024 * 1024,
        "el servidor creció {} MiB",
        grew / (1024 * 1024)
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        alice.send(":u");
        let users = loop {
            let line = alice.line();
            if line.starts_with("[SERVER] Client: Connected users: ") {
                break line;
            }
        };
        if !users.contains("mudo") {
            break;
        }
        assert!(Instant::now() < deadline, "siguen en la sala: {users}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn forged_datagrams_to_a_silent_reliable_user_get_at_most_three_times_their_size() {
    // bob entra por el modo confiable, acusa todo y se queda callado.
    let (_dir, server, _alice, bob) = alice_and_reliable_bob();
    // Lo que ya viaja hacia bob no cuenta: con la máquina cargada, la
    // sonda del servidor (milisegundos) puede reenviar algo cuyo acuse
    // todavía no llegó.
    bob.forget_what_arrived();
    let forged: Vec<String> = (2..7).map(|k| format!(":seq {k} :help\n")).collect();
    let forged_bytes: usize = forged.iter().map(String::len).sum();
    if !forge_all(bob.port(), server.addr, &forged) {
        return;
    }
    // Lo que le llegue a la dirección de bob en los 3 s siguientes (las
    // respuestas y sus retransmisiones, que empiezan a los milisegundos).
    // Esperar más solo puede juntar más.
    std::thread::sleep(Duration::from_secs(3));
    bob.socket.set_nonblocking(true).expect("nonblocking");
    let mut received = 0;
    let mut buffer = vec![0u8; 70_000];
    while let Ok((n, _)) = bob.socket.recv_from(&mut buffer) {
        received += n;
    }
    println!("falsificados {forged_bytes} bytes, llegaron {received}");
    assert!(
        received <= 3 * forged_bytes,
        "{received} bytes por {forged_bytes} falsificados"
    );
}

/// Tras `:q` la sesión termina y su token ya no abre nada en la sala, pero
/// lo que todavía viaja entre bob y el servidor (la despedida, un `:q`
/// repetido porque su acuse se perdió) lleva ese token delante, como lo
/// envía el cliente. El servidor lo sigue tomando como la prueba de esa
/// dirección y acusa. Si pidiera la cookie, no tomaría ningún acuse de
/// bob: una despedida perdida no volvería a salir (la sonda reenvía solo
/// lo más viejo), y el cliente terminaría creyendo perdida la conexión.
#[test]
fn after_a_reliable_quit_the_token_still_proves_the_address() {
    let (_dir, _server, mut alice, mut bob) = alice_and_reliable_bob();
    bob.token_only = true;
    bob.hold_acks = true;
    bob.send(":q");
    let (_, goodbye) = bob.next_line();
    assert!(
        goodbye.ends_with("disconnected from the best chat in the universe!"),
        "{goodbye}"
    );
    alice.expect("[SERVER] Client: bob disconnected!");
    // El mismo `:q` otra vez, con su número: como si su acuse se hubiera
    // perdido.
    bob.next_out -= 1;
    bob.send(":q");
    let answer = loop {
        let datagram = receive(&bob.socket);
        if !datagram.starts_with(":seq ") {
            break datagram;
        }
    };
    assert!(
        answer.starts_with(":ack "),
        "se esperaba un acuse: {answer}"
    );
}

/// Cookies falsificadas con la dirección del servidor no convierten al
/// cliente confiable en un amplificador: cada cookie hace salir otra vez
/// lo que está en vuelo, pero a lo sumo una vez cada 100 ms
/// (`COOKIE_RESEND_GAP`). El servidor de esta prueba es un socket que solo
/// responde cookies: 300 distintas, de golpe, a un cliente con su
/// `:register` en vuelo. Sin el tope salían 300 reenvíos.
#[test]
fn forged_cookies_do_not_make_the_reliable_client_resend_each_time() {
    let fake = UdpSocket::bind("127.0.0.1:0").expect("bind");
    fake.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let addr = fake.local_addr().expect("addr").to_string();
    let mut ana = Running::start(&["--udp", "--reliable", "--addr", &addr]);
    ana.send(":register ana clave\n");
    let mut buffer = [0u8; 65_536];
    let (_, client) = fake.recv_from(&mut buffer).expect("el :register");
    let cookies = 300;
    for i in 0..cookies {
        let cookie = format!("{i:016x}");
        let notice = format!("[SERVER] Client: Cookie {cookie}, resend with it first.\n");
        fake.send_to(notice.as_bytes(), client).expect("send");
    }
    // Lo que el cliente envía en los 3 s siguientes: a lo sumo 30 reenvíos
    // por las cookies (uno cada 100 ms) y los pocos del temporizador.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut resent = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        fake.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        if fake.recv_from(&mut buffer).is_ok() {
            resent += 1;
        }
    }
    println!("{cookies} cookies falsas: el cliente envió {resent} datagramas en 3 s");
    assert!(resent <= 40, "{resent} datagramas por {cookies} cookies");
    assert!(
        resent >= 1,
        "con la cookie, lo que estaba en vuelo sale otra vez"
    );
    drop(ana);
}
