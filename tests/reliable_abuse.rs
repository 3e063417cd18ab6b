//! El modo confiable de UDP contra un atacante del aula: alguien que abre
//! pares desde muchas direcciones del loopback y les envía datagramas
//! adelantados y enormes, para que el servidor los guarde esperando el
//! hueco que nunca llega. La memoria del servidor (su RSS, leído de
//! `/proc`) queda acotada por el techo de las colas, los pares que no
//! acusan nada se olvidan en segundos, y `:stats` lo muestra.

mod common;

use common::{Client, PATIENCE, Server, cookie_in};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// La memoria residente del proceso `pid`, en bytes (`VmRSS` de
/// `/proc/<pid>/status`).
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

/// El número que sigue a `key=` en las líneas de `:stats` de `client`.
fn stat(client: &mut Client, key: &str) -> u64 {
    client.send(":stats");
    let mut value = None;
    for _ in 0..4 {
        let line = client.line();
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
/// con `:seq 0` (entregado en orden) y devuelve el socket y la cookie.
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
        .send_to(format!("{cookie} :seq 0 hola\n").as_bytes(), server)
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
