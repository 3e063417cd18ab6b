//! Benchmark de recursos compartidos bajo abuso (issue #13, punto 4):
//! `cargo bench --bench abuso`.
//!
//! Dos escenarios, cada uno con el binario `servidor` compilado en modo
//! release sobre `127.0.0.1:0` y un directorio de datos temporal:
//!
//! - `nonreaders`: 300 clientes inician sesión y no leen nunca más; 5
//!   emisores envían líneas de 4000 bytes dentro del límite por usuario
//!   (18 por segundo, el límite es 20) y un lector mide cuánto tarda en
//!   recibir cada una. Informa el RSS pico del servidor, la memoria TCP
//!   pico del kernel (`/proc/net/sockstat`, `TCP: mem`, de toda la
//!   máquina: los búferes de envío del servidor y los de recepción de los
//!   clientes), la latencia del lector (p50, p99, máxima) y cuántos de los
//!   300 fueron desconectados.
//! - `signins`: 50 clientes se registran a la vez con el costo de hash
//!   por defecto (Argon2id, 19 MiB) y después se quedan quietos. Informa el
//!   RSS pico y el RSS en reposo del servidor (tras 3 s de calma).
//!
//! No es una prueba: nada aquí afirma cifras dentro de `cargo test`. Todo
//! bucle tiene tope de cantidad y de tiempo; el tráfico no sale del
//! loopback.
//!
//! Opciones (después de `--`): `--only nonreaders|signins`,
//! `--non-readers N` (300), `--ceiling BYTES` (el `--max-total-queue-bytes`
//! del servidor: 64 MiB; 0 = sin techo), `--send-buffer BYTES` (el
//! `--send-buffer-bytes` del servidor; 0 = el ajuste automático del
//! kernel; sin la opción, el del servidor), `--all-read` (los 300 sí leen:
//! la misma sala sin atascados, como línea de base), `--server RUTA`
//! (otro binario `servidor`, por ejemplo el de una versión anterior, para
//! comparar: solo se le pasan los flags que su `--help` conoce).

mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Clientes que dejan de leer en `nonreaders` (`--non-readers N`).
const NON_READERS: usize = 300;
/// Emisores en `nonreaders`.
const SENDERS: usize = 5;
/// Líneas por segundo de cada emisor: bajo el límite por defecto (20).
const SENDER_RATE: u64 = 18;
/// Largo de cada línea enviada, en bytes.
const LINE_BYTES: usize = 4000;
/// Duración de la inundación en `nonreaders`.
const FLOOD: Duration = Duration::from_secs(40);
/// Registros simultáneos en `signins`.
const SIGNINS: usize = 50;

/// El servidor bajo prueba (ver `common::Launched`).
struct Target(common::Launched);

impl Target {
    /// Arranca `binary` con `flags` (los que su `--help` no conoce se
    /// omiten, con su valor: así se compara con una versión anterior).
    fn start(binary: &str, flags: &[(&str, &str)]) -> io::Result<Target> {
        let help = Command::new(binary).arg("--help").output()?;
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        let mut command = Command::new(binary);
        for (flag, value) in flags {
            if help.contains(&format!("{flag} ")) {
                command.args([flag, value]);
            }
        }
        common::Launched::start(command).map(Target)
    }

    /// Dónde escucha.
    fn addr(&self) -> SocketAddr {
        self.0.addr
    }

    /// `(VmRSS, VmHWM)` del servidor, en MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let mib = |field| self.0.status(field) as f64 / 1024.0;
        (mib("VmRSS:"), mib("VmHWM:"))
    }
}

/// Conecta y registra `name`; devuelve la conexión ya en la sala.
fn sign_in(addr: SocketAddr, name: &str) -> io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr)?;
    // Sin Nagle: si no, el "\n" de una línea escrita en dos partes espera el
    // ACK retardado del otro lado (40 ms) y eso se mediría como latencia.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::other(format!("{name}: closed while signing in")));
        }
        let text = line.trim_end();
        if text.starts_with("[SERVER] Client: Sign in") {
            writeln!(writer, ":register {name} pw")?;
        } else if text == "[SERVER] Client: What is your balance?" {
            writeln!(writer, "100")?;
        } else if text.starts_with("[SERVER] Client: The balance of ") {
            return Ok(reader);
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or(0.0)
}

fn nonreaders(binary: &str, options: &Options) -> io::Result<String> {
    let non_readers = options.non_readers;
    let ceiling = options.ceiling.to_string();
    let mut flags = vec![
        ("--hash-cost", "minimal".to_string()),
        ("--max-clients-per-ip", "0".to_string()),
        ("--max-signin-failures-per-ip", "0".to_string()),
        ("--max-registrations-per-ip", "0".to_string()),
        ("--max-total-queue-bytes", ceiling),
    ];
    if let Some(bytes) = options.send_buffer {
        flags.push(("--send-buffer-bytes", bytes.to_string()));
    }
    let flags: Vec<(&str, &str)> = flags.iter().map(|(f, v)| (*f, v.as_str())).collect();
    let kernel_before = kernel_tcp_mib();
    let target = Target::start(binary, &flags)?;
    let base = Instant::now();
    let mut reader = sign_in(target.addr(), "reader")?;
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        senders.push(sign_in(target.addr(), &format!("sender{s}"))?);
    }
    // Se quedan abiertos sin leer nunca más (con `--all-read`, leen y
    // descartan: la misma sala, sin atascados, para comparar).
    let mut stuck = Vec::new();
    for i in 0..non_readers {
        let client = sign_in(target.addr(), &format!("stuck{i:03}"))?;
        if options.all_read {
            let mut input = client.get_ref().try_clone()?;
            thread::spawn(move || {
                let mut sink = [0u8; 1 << 16];
                while matches!(input.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
        stuck.push(client);
    }
    let done = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (s, sender) in senders.into_iter().enumerate() {
        let done = Arc::clone(&done);
        // Los emisores sí leen (y descartan) lo que les llega: si no, serían
        // clientes atascados ellos también.
        let mut input = sender.into_inner();
        let mut stream = input.try_clone()?;
        thread::spawn(move || {
            let mut sink = [0u8; 1 << 16];
            while matches!(input.read(&mut sink), Ok(n) if n > 0) {}
        });
        threads.push(thread::spawn(move || -> io::Result<()> {
            let interval = Duration::from_secs(1) / SENDER_RATE as u32;
            let start = Instant::now();
            for k in 0.. {
                let due = start + interval * k;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                if done.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let head = format!("{s} {} ", base.elapsed().as_micros());
                let mut line = head.into_bytes();
                line.resize(LINE_BYTES - 1, b'x');
                line.push(b'\n');
                stream.write_all(&line)?;
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    // Las latencias antes del primer corte: ahí solo hay sockets atascados,
    // sin la ráfaga de avisos de desconexión que viene después.
    let mut before_cuts = None;
    let mut cut = 0;
    let mut peak = 0.0f64;
    let mut line = String::new();
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut kernel_peak = 0.0f64;
    while started.elapsed() < FLOOD {
        peak = peak.max(target.rss_mib().1);
        kernel_peak = kernel_peak.max(kernel_tcp_mib());
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Err(io::Error::other("the reader was disconnected")),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
        let text = line.trim_end();
        if text.starts_with("[SERVER] Client: stuck") && text.ends_with(" disconnected!") {
            cut += 1;
            if before_cuts.is_none() {
                before_cuts = Some(latencies.clone());
            }
        } else if let Some(body) = text.split_once(": ").map(|(_, b)| b) {
            let sent = body.split(' ').nth(1).and_then(|t| t.parse::<u128>().ok());
            if let Some(sent) = sent {
                let now = base.elapsed().as_micros();
                latencies.push(now.saturating_sub(sent) as f64 / 1000.0);
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let (_, hwm) = target.rss_mib();
    drop(stuck);
    latencies.sort_by(f64::total_cmp);
    let mut before = before_cuts.unwrap_or_else(|| latencies.clone());
    before.sort_by(f64::total_cmp);
    Ok(format!(
        "nonreaders: {} lines read by the reader, latency p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms \
         ({} lines before the first disconnection: p99 {:.2} ms, max {:.1} ms); \
         {cut} of {non_readers} non-readers disconnected; server peak RSS {:.1} MiB; \
         kernel TCP memory peak {:.1} MiB (before the server: {kernel_before:.1} MiB)",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        before.len(),
        percentile(&before, 0.99),
        percentile(&before, 1.0),
        peak.max(hwm),
        kernel_peak,
    ))
}

fn signins(binary: &str, _: &Options) -> io::Result<String> {
    let target = Target::start(binary, &[("--max-signin-failures-per-ip", "0")])?;
    let (before, _) = target.rss_mib();
    let addr = target.addr();
    let started = Instant::now();
    let clients: Vec<_> = (0..SIGNINS)
        .map(|i| thread::spawn(move || sign_in(addr, &format!("user{i:02}"))))
        .collect();
    let mut connections = Vec::new();
    for client in clients {
        connections.push(
            client
                .join()
                .map_err(|_| io::Error::other("a client panicked"))??,
        );
    }
    let secs = started.elapsed().as_secs_f64();
    thread::sleep(Duration::from_secs(3));
    let (rest, peak) = target.rss_mib();
    drop(connections);
    Ok(format!(
        "signins: {SIGNINS} registrations at once in {secs:.1} s; server RSS {before:.1} MiB before, \
         peak {peak:.1} MiB, {rest:.1} MiB at rest 3 s later"
    ))
}

/// La memoria de todos los sockets TCP de la máquina, en MiB: el campo
/// `mem` de la línea `TCP:` de `/proc/net/sockstat`, en páginas de 4 KiB;
/// 0 si no se puede leer.
fn kernel_tcp_mib() -> f64 {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let pages = sockstat
        .lines()
        .find_map(|line| line.strip_prefix("TCP: "))
        .and_then(|fields| {
            let words: Vec<&str> = fields.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "mem")?;
            words.get(at + 1)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    (pages * 4096) as f64 / (1024.0 * 1024.0)
}

fn number(text: Option<String>) -> Option<usize> {
    text?.parse().ok()
}

/// Lo que se puede cambiar de los escenarios desde la línea de comandos.
struct Options {
    non_readers: usize,
    /// `--max-total-queue-bytes` del servidor (0 = sin techo).
    ceiling: usize,
    /// Los "atascados" también leen (`--all-read`): la línea de base.
    all_read: bool,
    /// `--send-buffer-bytes` del servidor; `None`: el suyo por omisión.
    send_buffer: Option<usize>,
}

/// Un escenario: el binario del servidor y las opciones.
type Scenario = fn(&str, &Options) -> io::Result<String>;

fn main() {
    let mut binary = env!("CARGO_BIN_EXE_servidor").to_string();
    let mut only = None;
    let mut options = Options {
        non_readers: NON_READERS,
        ceiling: 64 << 20,
        all_read: false,
        send_buffer: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--server" => binary = args.next().unwrap_or(binary),
            "--only" => only = args.next(),
            "--non-readers" => {
                options.non_readers = number(args.next()).unwrap_or(NON_READERS);
            }
            "--all-read" => options.all_read = true,
            "--send-buffer" => options.send_buffer = number(args.next()),
            "--ceiling" => options.ceiling = number(args.next()).unwrap_or(options.ceiling),
            other => {
                eprintln!("abuso: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let mut failed = false;
    let scenarios: [(&str, Scenario); 2] = [("nonreaders", nonreaders), ("signins", signins)];
    for (name, run) in scenarios {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        match run(&binary, &options) {
            Ok(report) => println!("{report}"),
            Err(error) => {
                println!("{name}: FAILED: {error}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
