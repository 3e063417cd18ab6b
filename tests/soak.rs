//! Prueba de resistencia (*soak*, issue #6), fuera del `cargo test` de
//! siempre porque dura minutos:
//!
//! ```text
//! cargo test --release --test soak -- --ignored --nocapture
//! SOAK_CLIENTS=300 SOAK_SECS=180 cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! Unos cientos de clientes hacen comandos al azar (mensajes públicos y
//! privados, transferencias, `:u`, `:funds`, `:ping`, salir y volver a
//! entrar) durante unos minutos. Cada 10 s se anota la memoria residente
//! (RSS), los hilos y los descriptores del servidor. Al final: la memoria
//! no creció (la última muestra no pasa de la primera tras el arranque más
//! un margen), no quedan hilos ni descriptores de más, el dinero total es
//! el del principio y la consola no muestra ningún error.

mod common;

use common::{Lcg, Server};
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const INITIAL: u64 = 1_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// RSS del proceso en KiB (de `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Una conexión con sesión iniciada, que lee sin bloquearse.
struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Conecta y entra como `name`, registrándolo si hace falta.
    fn sign_in(addr: SocketAddr, name: &str, register: bool) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(common::PATIENCE))
            .expect("timeout");
        let mut conn = Conn {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            stream,
        };
        conn.line();
        let verb = if register { "register" } else { "login" };
        conn.send(&format!(":{verb} {name} pw-{name}"));
        assert_eq!(conn.line(), "Welcome to the best chat in the universe!");
        conn.line(); // token UDP
        let next = conn.line();
        if next == "[SERVER] Client: What is your balance?" {
            conn.send(&INITIAL.to_string());
            conn.line();
        }
        conn
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .expect("el servidor cortó a un cliente del soak");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read");
        assert!(n > 0, "el servidor cerró la conexión");
        line.trim_end().to_string()
    }

    /// Lee lo que haya llegado sin esperar; devuelve los bytes leídos.
    fn drain(&mut self) -> usize {
        self.stream.set_nonblocking(true).expect("nonblocking");
        let mut total = self.reader.buffer().len();
        self.reader.consume(total);
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match self.reader.get_mut().read(&mut buffer) {
                Ok(0) => panic!("el servidor cerró la conexión"),
                Ok(n) => total += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        self.stream.set_nonblocking(false).expect("blocking");
        total
    }

    fn quit(mut self) {
        self.send(":q");
        // Hasta la despedida (o el cierre).
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest);
    }
}

fn client(addr: SocketAddr, me: usize, clients: usize, stop: &AtomicBool, sent: &AtomicU64) {
    let name = |i: usize| format!("s{i}");
    let mut rng = Lcg(0x5eed ^ me as u64);
    let mut conn = Conn::sign_in(addr, &name(me), false);
    while !stop.load(Ordering::Relaxed) {
        let other = name((me + 1 + rng.below(clients - 1)) % clients);
        match rng.below(20) {
            0..=3 => conn.send(&format!("hola desde {me} :smile")),
            4..=6 => conn.send(&format!(":p {other} psst {}", rng.below(1000))),
            7..=11 => conn.send(&format!(":t {other} {}", 1 + rng.below(50))),
            12..=13 => conn.send(":u"),
            14..=16 => conn.send(":funds"),
            17..=18 => conn.send(":ping"),
            _ => {
                conn.quit();
                conn = Conn::sign_in(addr, &name(me), false);
            }
        }
        sent.fetch_add(1, Ordering::Relaxed);
        conn.drain();
        thread::sleep(Duration::from_millis(400 + rng.below(200) as u64));
    }
    conn.quit();
}

#[test]
#[ignore = "dura minutos: cargo test --release --test soak -- --ignored --nocapture"]
fn a_few_hundred_clients_for_a_few_minutes() {
    let clients = setting("SOAK_CLIENTS", 300) as usize;
    let secs = setting("SOAK_SECS", 180);
    let dir = tempfile::tempdir().expect("tempdir");
    // Cientos de clientes desde 127.0.0.1: sin el tope por dirección.
    let server = Server::start(
        dir.path(),
        &[
            "--max-clients-per-ip",
            "0",
            "--max-registrations-per-ip",
            "0",
        ],
    );
    let pid = server.pid();
    // Las cuentas, de a una (y antes de medir nada).
    for i in 0..clients {
        Conn::sign_in(server.addr, &format!("s{i}"), true).quit();
    }
    let (threads_before, fds_before) = server.steady_threads_and_fds();

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..clients)
        .map(|me| {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            let addr = server.addr;
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || client(addr, me, clients, &stop, &sent))
                .expect("hilo")
        })
        .collect();

    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        thread::sleep(Duration::from_secs(10));
        let (threads, fds) = server.threads_and_fds();
        let sample = (
            start.elapsed().as_secs(),
            rss_kib(pid),
            threads,
            fds,
            sent.load(Ordering::Relaxed),
        );
        eprintln!(
            "t={:>4} s  RSS {:>7} KiB  hilos {:>4}  descriptores {:>4}  comandos {:>8}",
            sample.0, sample.1, sample.2, sample.3, sample.4
        );
        samples.push(sample);
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("cliente del soak");
    }

    let total: u64 = (0..clients)
        .map(|i| server.connect().login(&format!("s{i}")))
        .sum();
    // Nada de más al terminar.
    let (threads_after, fds_after) = server.threads_and_fds_back_to((threads_before, fds_before));
    let commands = sent.load(Ordering::Relaxed);
    let first = samples.first().map_or(0, |s| s.1);
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let last = samples.last().map_or(0, |s| s.1);
    eprintln!(
        "{clients} clientes, {secs} s, {commands} comandos; RSS primera muestra {first} KiB, \
         máximo {peak} KiB, última {last} KiB; hilos {threads_before} → {threads_after}, \
         descriptores {fds_before} → {fds_after}"
    );
    assert_eq!(total, INITIAL * clients as u64, "el dinero total cambió");
    assert_eq!(threads_after, threads_before, "hilos de más");
    assert_eq!(fds_after, fds_before, "descriptores de más");
    // Memoria plana: la última muestra no pasa de la primera más 25 %.
    assert!(last <= first + first / 4, "RSS creció: {samples:?}");
    let stderr = server.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let console = server.console_so_far();
    let bad: Vec<_> = console
        .iter()
        .filter(|l| l.contains("internal error") || l.contains("storage error"))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}
