//! Benchmark de carga del servidor de chat (issue #5): `cargo bench --bench carga`.
//!
//! Arranca el binario `servidor` compilado en modo release sobre
//! `127.0.0.1:0` con un directorio de datos temporal (o apunta a uno que ya
//! corre, con `--addr`), conecta e inicia sesión con muchos clientes desde un
//! solo hilo con `epoll` (crate `mio`, para que el generador no sea el cuello
//! de botella) y corre los escenarios de la tabla del issue. Cada mensaje
//! lleva número de secuencia, marca de tiempo de envío y un relleno que
//! depende de la secuencia: el benchmark comprueba que cada línea esperada
//! llegó, en orden por emisor e intacta, e informa entregas por segundo,
//! latencias, tiempo de conexión e inicio de sesión, RSS pico y segundos de
//! CPU del servidor, y el techo del loopback de esta máquina medido en la
//! misma corrida. Imprime una tabla y escribe JSON.
//!
//! No es una prueba: nada aquí afirma tiempos dentro de `cargo test`. Todo
//! bucle tiene un tope de cantidad y de tiempo; el tráfico no sale del
//! loopback.
//!
//! Opciones (después de `--`): `--runs N` (3 por defecto; se informa la
//! mediana), `--only a,b` (escenarios por nombre), `--idle-clients N`
//! (10000), `--hold-secs N` (dejar a los quietos dentro N segundos más,
//! para mirar el servidor con `pmap -x PID`), `--json RUTA` (`target/carga/resultados.json`), `--addr H:P`
//! (un servidor ya en marcha: sin cifras de RSS ni CPU), `--send-buffer N`
//! (el `--send-buffer-bytes` del servidor; 0 = el ajuste automático del
//! kernel, para comparar con el tope).

mod common;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::fmt::Write as _;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Largo de cada línea de chat tal como la recibe un cliente, `\n` incluido.
const LINE_BYTES: usize = 100;
/// Saldo inicial de cada cliente del benchmark, en dólares.
const INITIAL_BALANCE: u64 = 1_000_000;
/// Conexiones que a la vez pueden estar conectándose o iniciando sesión.
const SIGNIN_IN_FLIGHT: usize = 512;
/// Líneas que un receptor puede tener pendientes (enviadas y no leídas):
/// 2000 × 100 B = 200 KB, muy por debajo de la cola de 1 MiB del servidor,
/// para medir velocidad y no desconexiones por cola llena.
const WINDOW_LINES: u64 = 2000;
/// Entregas pendientes en total: con muchos receptores la ventana se
/// achica, para que la latencia medida no sea solo la de la propia cola.
const WINDOW_DELIVERIES: u64 = 200_000;
/// Tope de tiempo de cualquier fase.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// Tope del inicio de sesión de los clientes quietos (N·(N−1)/2 avisos).
const IDLE_SIGNIN_LIMIT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------- opciones

struct Options {
    runs: usize,
    only: Option<Vec<String>>,
    idle_clients: usize,
    /// Segundos que los clientes quietos se quedan dentro tras medir, para
    /// mirar el servidor desde afuera (`pmap -x PID`).
    hold_secs: u64,
    json: PathBuf,
    addr: Option<SocketAddr>,
    /// `--send-buffer-bytes` del servidor; `None`: el suyo por omisión.
    send_buffer: Option<usize>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        runs: 3,
        only: None,
        idle_clients: 10_000,
        hold_secs: 0,
        json: PathBuf::from(env_or("CARGO_TARGET_DIR", "target")).join("carga/resultados.json"),
        addr: None,
        send_buffer: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            // `cargo bench` agrega `--bench` a todo benchmark.
            "--bench" => {}
            "--runs" => options.runs = value()?.parse().map_err(|_| "--runs: a number")?,
            "--only" => options.only = Some(value()?.split(',').map(String::from).collect()),
            "--idle-clients" => {
                options.idle_clients = value()?.parse().map_err(|_| "--idle-clients: a number")?
            }
            "--hold-secs" => {
                options.hold_secs = value()?.parse().map_err(|_| "--hold-secs: a number")?
            }
            "--json" => options.json = value()?.into(),
            "--addr" => options.addr = Some(value()?.parse().map_err(|_| "--addr: HOST:PORT")?),
            "--send-buffer" => {
                options.send_buffer = Some(value()?.parse().map_err(|_| "--send-buffer: a number")?)
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(options)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

// ---------------------------------------------------------------- servidor

/// El servidor bajo prueba: un proceso propio o uno que ya corre.
struct Target {
    addr: SocketAddr,
    launched: Option<common::Launched>,
}

/// Lo que `/proc` dice del proceso servidor.
#[derive(Clone, Copy, Default)]
struct ProcStats {
    rss_kib: u64,
    peak_rss_kib: u64,
    threads: u64,
    cpu_secs: f64,
}

impl Target {
    /// El PID del servidor que arrancó el benchmark (no con `--addr`).
    fn pid(&self) -> Option<u32> {
        self.launched.as_ref().map(|l| l.child.id())
    }

    fn start(options: &Options) -> io::Result<Target> {
        if let Some(addr) = options.addr {
            return Ok(Target {
                addr,
                launched: None,
            });
        }
        let mut servidor = Command::new(env!("CARGO_BIN_EXE_servidor"));
        servidor.args([
            "--hash-cost",
            "minimal",
            // 10.000 clientes: sin el tope de conexiones del aula.
            "--max-clients",
            "0",
            "--max-clients-per-ip",
            "0",
            "--max-registrations-per-ip",
            "0",
            // Miles de líneas por segundo por cliente: el generador
            // inunda a propósito.
            "--max-lines-per-sec",
            "0",
        ]);
        if let Some(bytes) = options.send_buffer {
            servidor.args(["--send-buffer-bytes", &bytes.to_string()]);
        }
        let launched = common::Launched::start(servidor)?;
        Ok(Target {
            addr: launched.addr,
            launched: Some(launched),
        })
    }

    fn stats(&self) -> Option<ProcStats> {
        let launched = self.launched.as_ref()?;
        let pid = launched.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Los campos 14 y 15 (utime, stime) van después del nombre entre paréntesis.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        // SAFETY: sysconf no tiene precondiciones.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Some(ProcStats {
            rss_kib: launched.status("VmRSS:"),
            peak_rss_kib: launched.status("VmHWM:"),
            threads: launched.status("Threads:"),
            cpu_secs: ticks / hz,
        })
    }
}

// ---------------------------------------------------------------- clientes

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Greeting,
    Registering,
    Balance,
    Joined,
    Closed,
}

struct Conn {
    stream: TcpStream,
    stage: Stage,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    /// Si `false`, el generador no lee este socket (un cliente atascado).
    reading: bool,
}

/// Qué se cuenta y se comprueba de las líneas que llegan.
#[derive(Default)]
struct Tally {
    joined: usize,
    join_notices: u64,
    deliveries: u64,
    /// Latencias de entrega, en microsegundos.
    latencies_us: Vec<u32>,
    /// Por receptor y emisor, la próxima secuencia esperada.
    next_seq: Vec<Vec<u64>>,
    /// Por receptor, líneas de chat recibidas.
    got: Vec<u64>,
    transfers_acked: u64,
    transfer_notices: u64,
    funds: Vec<Option<u64>>,
    disconnected: usize,
    errors: Vec<String>,
}

impl Tally {
    fn error(&mut self, text: String) {
        if self.errors.len() < 10 {
            self.errors.push(text);
        } else if self.errors.len() == 10 {
            self.errors.push("...".into());
        }
    }
}

/// El generador de carga: todos los clientes en un solo `epoll`.
struct Load {
    poll: Poll,
    events: Events,
    conns: Vec<Conn>,
    names: Vec<String>,
    prefix: String,
    base: Instant,
    tally: Tally,
    scratch: Vec<u8>,
    senders: usize,
}

impl Load {
    fn new(clients: usize) -> io::Result<Load> {
        // Un prefijo propio de la corrida: contra un servidor que ya corre
        // (`--addr`), los nombres de corridas anteriores ya están tomados.
        let prefix = format!(
            "b{:x}",
            std::process::id() as u64 * 1000 + rand_u64() % 1000
        );
        let names = (0..clients).map(|i| format!("{prefix}_{i:05}")).collect();
        Ok(Load {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            conns: Vec::with_capacity(clients),
            names,
            prefix,
            base: Instant::now(),
            tally: Tally::default(),
            scratch: vec![0; 1 << 16],
            senders: 0,
        })
    }

    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }

    /// Conecta e inicia sesión con todos los clientes (`:register`, saldo),
    /// y espera hasta que cada uno recibió el aviso de ingreso de todos los
    /// que entraron después: N·(N−1)/2 avisos.
    fn sign_in(&mut self, addr: SocketAddr, limit: Duration) -> io::Result<Duration> {
        let total = self.names.len();
        let started = Instant::now();
        let notices = (total as u64) * (total as u64 - 1) / 2;
        while self.tally.joined < total || self.tally.join_notices < notices {
            while self.conns.len() < total
                && self.conns.len() - self.tally.joined < SIGNIN_IN_FLIGHT
            {
                let mut stream = TcpStream::connect(addr)?;
                stream.set_nodelay(true)?;
                let token = Token(self.conns.len());
                self.poll.registry().register(
                    &mut stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                self.conns.push(Conn {
                    stream,
                    stage: Stage::Greeting,
                    inbox: Vec::new(),
                    outbox: Vec::new(),
                    reading: true,
                });
            }
            self.turn(Some(Duration::from_millis(50)))?;
            if started.elapsed() > limit {
                return Err(io::Error::other(format!(
                    "sign-in did not finish in {limit:?}: {} of {total} joined, {} of {notices} join notices",
                    self.tally.joined, self.tally.join_notices
                )));
            }
            self.check_alive()?;
        }
        Ok(started.elapsed())
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.tally.disconnected > 0 {
            return Err(io::Error::other(format!(
                "{} clients were disconnected: {:?}",
                self.tally.disconnected, self.tally.errors
            )));
        }
        Ok(())
    }

    /// Una vuelta del bucle de eventos: lee lo disponible, procesa líneas y
    /// vacía lo que haya por escribir.
    fn turn(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.poll.poll(&mut self.events, timeout)?;
        let ready: Vec<(usize, bool, bool)> = self
            .events
            .iter()
            .map(|e| {
                (
                    e.token().0,
                    e.is_readable() || e.is_read_closed(),
                    e.is_writable(),
                )
            })
            .collect();
        for (i, readable, writable) in ready {
            if writable {
                self.flush(i);
            }
            if readable && self.conns[i].reading {
                self.read(i);
            }
        }
        Ok(())
    }

    fn read(&mut self, i: usize) {
        loop {
            match self.conns[i].stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.close(i, "the server closed the connection");
                    return;
                }
                Ok(n) => {
                    let mut inbox = std::mem::take(&mut self.conns[i].inbox);
                    inbox.extend_from_slice(&self.scratch[..n]);
                    let mut start = 0;
                    while let Some(end) = inbox[start..].iter().position(|&b| b == b'\n') {
                        self.line(i, &inbox[start..start + end]);
                        start += end + 1;
                    }
                    inbox.drain(..start);
                    self.conns[i].inbox = inbox;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(i, &format!("read error: {e}"));
                    return;
                }
            }
        }
    }

    fn close(&mut self, i: usize, why: &str) {
        if self.conns[i].stage != Stage::Closed {
            self.conns[i].stage = Stage::Closed;
            self.tally.disconnected += 1;
            self.tally.error(format!("client {i}: {why}"));
            let _ = self.poll.registry().deregister(&mut self.conns[i].stream);
        }
    }

    fn send(&mut self, i: usize, line: &str) {
        self.conns[i].outbox.extend_from_slice(line.as_bytes());
        self.conns[i].outbox.push(b'\n');
    }

    fn flush(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        while !conn.outbox.is_empty() {
            match conn.stream.write(&conn.outbox) {
                Ok(n) => {
                    conn.outbox.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let why = format!("write error: {e}");
                    self.close(i, &why);
                    return;
                }
            }
        }
    }

    fn line(&mut self, i: usize, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            self.tally
                .error(format!("client {i}: a line that is not UTF-8"));
            return;
        };
        match self.conns[i].stage {
            Stage::Greeting if text.starts_with("[SERVER] Client: Sign in") => {
                let command = format!(":register {} pw", self.names[i]);
                self.send(i, &command);
                self.flush(i);
                self.conns[i].stage = Stage::Registering;
            }
            Stage::Registering if text == "[SERVER] Client: What is your balance?" => {
                self.send(i, &INITIAL_BALANCE.to_string());
                self.flush(i);
                self.conns[i].stage = Stage::Balance;
            }
            Stage::Registering
                if text.starts_with("Welcome")
                    || text.starts_with("[SERVER] Client: Your UDP token") => {}
            Stage::Balance if text.starts_with("[SERVER] Client: The balance of ") => {
                self.conns[i].stage = Stage::Joined;
                self.tally.joined += 1;
            }
            Stage::Joined => self.joined_line(i, text),
            stage => self
                .tally
                .error(format!("client {i} in {stage:?}: unexpected {text:?}")),
        }
    }

    fn joined_line(&mut self, i: usize, text: &str) {
        if let Some(notice) = text.strip_prefix("[SERVER] Client: ") {
            if notice.ends_with(" connected!") {
                self.tally.join_notices += 1;
            } else if notice.starts_with("You transferred ") {
                self.tally.transfers_acked += 1;
                self.tally.got[i] += 1;
            } else if notice.contains(" dollars to you.") {
                self.tally.transfer_notices += 1;
            } else if let Some(rest) = notice.strip_prefix("You have ") {
                self.tally.funds[i] = rest.strip_suffix(" dollars.").and_then(|n| n.parse().ok());
            } else {
                self.tally.error(format!("client {i}: unexpected {text:?}"));
                if notice.ends_with(" disconnected!") {
                    self.tally.disconnected += 1;
                }
            }
            return;
        }
        self.chat_line(i, text);
    }

    /// Una línea de chat `<nombre>: <seq> <marca> <relleno>`: se comprueba el
    /// emisor, el orden, el relleno y se anota la latencia.
    fn chat_line(&mut self, receiver: usize, text: &str) {
        let now = self.now_us();
        let parsed = (|| {
            let (name, body) = text.split_once(": ")?;
            let sender: usize = name
                .strip_prefix(&self.prefix)?
                .strip_prefix('_')?
                .parse()
                .ok()?;
            let mut parts = body.splitn(3, ' ');
            let seq: u64 = parts.next()?.parse().ok()?;
            let sent: u64 = u64::from_str_radix(parts.next()?, 16).ok()?;
            let pad = parts.next()?;
            Some((sender, seq, sent, pad))
        })();
        let Some((sender, seq, sent, pad)) = parsed else {
            self.tally
                .error(format!("client {receiver}: unexpected {text:?}"));
            return;
        };
        if sender >= self.senders || sender == receiver {
            self.tally
                .error(format!("client {receiver}: line from {sender}: {text:?}"));
            return;
        }
        let want = self.tally.next_seq[receiver][sender];
        if seq != want
            || pad.as_bytes() != padding(seq, pad.len()).as_slice()
            || text.len() + 1 != LINE_BYTES
        {
            self.tally.error(format!(
                "client {receiver}: from {sender} expected seq {want}, got {text:?}"
            ));
        }
        self.tally.next_seq[receiver][sender] = seq + 1;
        self.tally.deliveries += 1;
        self.tally.got[receiver] += 1;
        self.tally
            .latencies_us
            .push(now.saturating_sub(sent).min(u32::MAX as u64) as u32);
    }

    /// Prepara la comprobación de tráfico: los primeros `senders` clientes envían.
    fn expect_traffic(&mut self, senders: usize) {
        self.senders = senders;
        self.tally.next_seq = vec![vec![0; senders]; self.conns.len()];
        self.tally.got = vec![0; self.conns.len()];
        self.tally.funds = vec![None; self.conns.len()];
    }

    /// La línea número `seq` del emisor `sender`, de modo que llegue a los
    /// demás con exactamente [`LINE_BYTES`] bytes.
    fn chat_message(&self, sender: usize, seq: u64) -> String {
        let head = format!("{seq:08} {:016x} ", self.now_us());
        let used = self.names[sender].len() + 2 + head.len() + 1;
        let pad = padding(seq, LINE_BYTES - used);
        let mut line = head;
        line.push_str(std::str::from_utf8(&pad).unwrap_or_default());
        line
    }

    /// Líneas que el receptor más atrasado aún no leyó.
    fn worst_backlog(&self, sent: &[u64]) -> u64 {
        let total: u64 = sent.iter().sum();
        (0..self.conns.len())
            .map(|r| total - sent.get(r).copied().unwrap_or(0) - self.tally.got[r])
            .max()
            .unwrap_or(0)
    }
}

/// El relleno de la línea `seq`: letras que dependen de la secuencia, para
/// notar una línea cortada o mezclada con otra.
fn padding(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((seq as usize + i) % 26) as u8)
        .collect()
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // /dev/urandom basta para un prefijo de nombres.
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    u64::from_le_bytes(bytes)
}

// ---------------------------------------------------------------- escenarios

/// Lo que una corrida de un escenario midió.
#[derive(Clone, Default)]
struct Measure {
    clients: usize,
    signin_secs: f64,
    deliveries: u64,
    secs: f64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    server: ProcStats,
    server_cpu_secs: f64,
    transfers: u64,
    note: String,
}

fn percentiles(latencies: &mut [u32]) -> (f64, f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    (at(0.5), at(0.99), at(1.0))
}

/// (i)–(iii): `clients` conectados, los primeros `senders` envían `lines`
/// líneas cada uno tan rápido como la ventana lo permite.
fn flood(options: &Options, clients: usize, senders: usize, lines: u64) -> io::Result<Measure> {
    let target = Target::start(options)?;
    let mut load = Load::new(clients)?;
    let signin = load.sign_in(target.addr, PHASE_LIMIT)?;
    load.expect_traffic(senders);
    let expected = senders as u64 * lines * (clients as u64 - 1);
    let before = target.stats();
    let started = Instant::now();
    let mut sent = vec![0u64; senders];
    let window = WINDOW_LINES.min(WINDOW_DELIVERIES / (clients as u64 - 1));
    while load.tally.deliveries < expected {
        let backlog = load.worst_backlog(&sent);
        if backlog < window {
            // Reparte lo que cabe en la ventana entre los emisores.
            let room = (window - backlog) / senders as u64 + 1;
            for (s, count) in sent.iter_mut().enumerate() {
                for _ in 0..room.min(lines - *count) {
                    let line = load.chat_message(s, *count);
                    load.send(s, &line);
                    *count += 1;
                }
                load.flush(s);
            }
        }
        load.turn(Some(Duration::from_millis(20)))?;
        load.check_alive()?;
        if started.elapsed() > PHASE_LIMIT {
            return Err(io::Error::other(format!(
                "only {} of {expected} deliveries arrived",
                load.tally.deliveries
            )));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    finish(target, load, signin, secs, before)
}

/// Latencia a ritmo fijo: cada emisor envía `rate` líneas por segundo
/// durante `seconds` segundos, repartidos en el tiempo.
fn paced(
    options: &Options,
    clients: usize,
    senders: usize,
    rate: u64,
    seconds: u64,
) -> io::Result<Measure> {
    let target = Target::start(options)?;
    let mut load = Load::new(clients)?;
    let signin = load.sign_in(target.addr, PHASE_LIMIT)?;
    load.expect_traffic(senders);
    let lines = rate * seconds;
    let expected = senders as u64 * lines * (clients as u64 - 1);
    let before = target.stats();
    let started = Instant::now();
    let interval = Duration::from_secs(1).as_secs_f64() / rate as f64;
    let mut sent = vec![0u64; senders];
    while load.tally.deliveries < expected {
        let elapsed = started.elapsed().as_secs_f64();
        let mut next_due = f64::MAX;
        for (s, count) in sent.iter_mut().enumerate() {
            // El emisor s envía su línea k en k·intervalo + s·intervalo/emisores.
            let offset = s as f64 * interval / senders as f64;
            while *count < lines && *count as f64 * interval + offset <= elapsed {
                let line = load.chat_message(s, *count);
                load.send(s, &line);
                load.flush(s);
                *count += 1;
            }
            if *count < lines {
                next_due = next_due.min(*count as f64 * interval + offset);
            }
        }
        let wait = if next_due == f64::MAX {
            Duration::from_millis(20)
        } else {
            Duration::from_secs_f64((next_due - started.elapsed().as_secs_f64()).max(0.0))
        };
        load.turn(Some(wait))?;
        load.check_alive()?;
        if started.elapsed() > Duration::from_secs(seconds) + PHASE_LIMIT {
            return Err(io::Error::other("paced run did not finish"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    finish(target, load, signin, secs, before)
}

/// Muchos clientes que solo inician sesión y se quedan: tiempo hasta que
/// todos entraron (con los avisos de ingreso) y RSS del servidor.
/// Cuánto esperan quietos los clientes antes de medir el RSS.
const IDLE_QUIET: Duration = Duration::from_secs(3);

fn idle(options: &Options, clients: usize) -> io::Result<Measure> {
    raise_fd_limit(clients)?;
    let target = Target::start(options)?;
    let mut load = Load::new(clients)?;
    let signin = load.sign_in(target.addr, IDLE_SIGNIN_LIMIT)?;
    load.expect_traffic(0);
    // Unos segundos quietos para que el RSS refleje el estado de reposo: el
    // servidor devuelve la memoria de la ráfaga de avisos tras un segundo
    // de calma (`release_free_memory` en `src/extra/rendimiento/outbox.rs`).
    let quiet = Instant::now();
    while quiet.elapsed() < IDLE_QUIET {
        load.turn(Some(Duration::from_millis(100)))?;
    }
    if options.hold_secs > 0 {
        eprintln!(
            "  holding {clients} idle clients for {} s (server PID {})",
            options.hold_secs,
            target.pid().map_or("unknown".into(), |pid| pid.to_string())
        );
        let held = Instant::now();
        while held.elapsed() < Duration::from_secs(options.hold_secs) {
            load.turn(Some(Duration::from_millis(100)))?;
        }
    }
    let mut measure = finish(target, load, signin, 0.0, None)?;
    measure.deliveries = (clients as u64) * (clients as u64 - 1) / 2;
    measure.secs = signin.as_secs_f64();
    measure.per_sec = measure.deliveries as f64 / measure.secs;
    Ok(measure)
}

/// Tormenta de transferencias: cada cliente transfiere 1 dólar al siguiente,
/// con hasta `window` transferencias sin confirmar, hasta `total` o hasta
/// `seconds` segundos. Al final se suma `:funds` de todos: el total debe ser
/// el inicial.
fn transfers(
    options: &Options,
    clients: usize,
    window: u64,
    total: u64,
    seconds: u64,
) -> io::Result<Measure> {
    let target = Target::start(options)?;
    let mut load = Load::new(clients)?;
    let signin = load.sign_in(target.addr, PHASE_LIMIT)?;
    load.expect_traffic(0);
    let before = target.stats();
    let started = Instant::now();
    let mut issued = vec![0u64; clients];
    let deadline = Duration::from_secs(seconds);
    let mut stopped = false;
    loop {
        let issued_total: u64 = issued.iter().sum();
        stopped |= started.elapsed() > deadline || issued_total >= total;
        if stopped && load.tally.transfers_acked >= issued_total {
            break;
        }
        if !stopped {
            // Cada cliente mantiene hasta `window` transferencias sin confirmar.
            for (i, count) in issued.iter_mut().enumerate() {
                while *count - load.tally.got[i] < window {
                    let to = load.names[(i + 1) % clients].clone();
                    load.send(i, &format!(":t {to} 1"));
                    *count += 1;
                }
                load.flush(i);
            }
        }
        load.turn(Some(Duration::from_millis(20)))?;
        load.check_alive()?;
        if started.elapsed() > deadline + PHASE_LIMIT {
            return Err(io::Error::other("transfer acks did not arrive"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let acked = load.tally.transfers_acked;
    for i in 0..clients {
        load.send(i, ":funds");
        load.flush(i);
    }
    let funds_started = Instant::now();
    while load.tally.funds.iter().any(Option::is_none) && funds_started.elapsed() < PHASE_LIMIT {
        load.turn(Some(Duration::from_millis(20)))?;
    }
    let sum: u64 = load.tally.funds.iter().map(|f| f.unwrap_or(0)).sum();
    if sum != INITIAL_BALANCE * clients as u64 {
        load.tally.error(format!(
            "the balances add up to {sum}, not {}",
            INITIAL_BALANCE * clients as u64
        ));
    }
    let mut measure = finish(target, load, signin, secs, before)?;
    measure.transfers = acked;
    measure.per_sec = acked as f64 / secs;
    Ok(measure)
}

/// Clientes que no leen: un emisor envía sin ventana a 9 receptores que no
/// leen. El servidor debe desconectarlos al llenar su cola, y su RSS debe
/// quedar acotado por el límite de la cola.
fn stalled(options: &Options, lines: u64) -> io::Result<Measure> {
    let target = Target::start(options)?;
    let clients = 10;
    let mut load = Load::new(clients)?;
    let signin = load.sign_in(target.addr, PHASE_LIMIT)?;
    load.expect_traffic(1);
    for conn in &mut load.conns[1..] {
        conn.reading = false;
    }
    let started = Instant::now();
    let mut sent = 0;
    while sent < lines && started.elapsed() < PHASE_LIMIT {
        while sent < lines && load.conns[0].outbox.len() < 1 << 16 {
            let line = load.chat_message(0, sent);
            load.send(0, &line);
            sent += 1;
        }
        load.flush(0);
        load.turn(Some(Duration::from_millis(20)))?;
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = target.stats().unwrap_or_default();
    let mut measure = Measure {
        clients,
        signin_secs: signin.as_secs_f64(),
        deliveries: sent,
        secs,
        per_sec: sent as f64 / secs,
        server: stats,
        ..Measure::default()
    };
    measure.note = format!("{} lines sent to 9 clients that do not read", sent);
    Ok(measure)
}

/// Reúne lo medido. Detiene el servidor antes de cerrar los clientes: si
/// no, cada cierre sería un aviso de desconexión para todos los demás, y
/// con 10.000 clientes el desarme tardaría minutos.
fn finish(
    target: Target,
    mut load: Load,
    signin: Duration,
    secs: f64,
    before: Option<ProcStats>,
) -> io::Result<Measure> {
    if !load.tally.errors.is_empty() {
        return Err(io::Error::other(format!("errors: {:?}", load.tally.errors)));
    }
    let after = target.stats();
    drop(target);
    let (p50, p99, max) = percentiles(&mut load.tally.latencies_us);
    Ok(Measure {
        clients: load.conns.len(),
        signin_secs: signin.as_secs_f64(),
        deliveries: load.tally.deliveries,
        secs,
        per_sec: if secs > 0.0 {
            load.tally.deliveries as f64 / secs
        } else {
            0.0
        },
        p50_ms: p50,
        p99_ms: p99,
        max_ms: max,
        server: after.unwrap_or_default(),
        server_cpu_secs: match (before, after) {
            (Some(b), Some(a)) => a.cpu_secs - b.cpu_secs,
            _ => 0.0,
        },
        transfers: 0,
        note: String::new(),
    })
}

/// El techo del loopback: un escritor hace un `write()` por línea de 100
/// bytes y un lector lee en bloques; líneas por segundo.
fn loopback_ceiling(lines: u64) -> io::Result<f64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> io::Result<u64> {
        let (mut stream, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 16];
        let mut seen = 0u64;
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(seen);
            }
            seen += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    });
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut line = padding(0, LINE_BYTES);
    line[LINE_BYTES - 1] = b'\n';
    let started = Instant::now();
    for _ in 0..lines {
        stream.write_all(&line)?;
    }
    drop(stream);
    let seen = reader
        .join()
        .map_err(|_| io::Error::other("reader panicked"))??;
    let secs = started.elapsed().as_secs_f64();
    if seen != lines {
        return Err(io::Error::other(format!(
            "ceiling: {seen} of {lines} lines"
        )));
    }
    Ok(lines as f64 / secs)
}

fn raise_fd_limit(clients: usize) -> io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` es un rlimit válido y vive durante la llamada.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let need = (clients as u64 + 64) as libc::rlim_t;
    if limit.rlim_cur < need {
        limit.rlim_cur = need.min(limit.rlim_max);
        // SAFETY: igual que arriba.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if limit.rlim_cur < need {
        return Err(io::Error::other(format!(
            "{clients} clients need {need} file descriptors, the limit is {} (raise it with ulimit -n)",
            limit.rlim_cur
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- informe

/// Una corrida de un escenario.
type Run = Box<dyn Fn(&Options) -> io::Result<Measure>>;

struct Scenario {
    name: &'static str,
    title: String,
    run: Run,
}

fn scenarios(options: &Options) -> Vec<Scenario> {
    let idle_clients = options.idle_clients;
    vec![
        Scenario {
            name: "i",
            title: "(i) 10 clients, 10 send 10,000 lines".into(),
            run: Box::new(|o| flood(o, 10, 10, 10_000)),
        },
        Scenario {
            name: "ii",
            title: "(ii) 100 clients, 10 send 1,000".into(),
            run: Box::new(|o| flood(o, 100, 10, 1_000)),
        },
        Scenario {
            name: "iii",
            title: "(iii) 1,000 clients, 10 send 100".into(),
            run: Box::new(|o| flood(o, 1_000, 10, 100)),
        },
        Scenario {
            name: "lat20k",
            title: "latency: 100 clients, 10 x 20 lines/s (20k deliveries/s)".into(),
            run: Box::new(|o| paced(o, 100, 10, 20, 5)),
        },
        Scenario {
            name: "lat100k",
            title: "latency: 100 clients, 10 x 100 lines/s (100k deliveries/s)".into(),
            run: Box::new(|o| paced(o, 100, 10, 100, 5)),
        },
        Scenario {
            name: "transfers",
            title: "transfer storm: 100 clients, 8 in flight each".into(),
            run: Box::new(|o| transfers(o, 100, 8, 1_000_000, 5)),
        },
        Scenario {
            name: "stalled",
            title: "10 clients, 9 stop reading; 1 sends 200,000 lines".into(),
            run: Box::new(|o| stalled(o, 200_000)),
        },
        // Al final: tras cerrar 10.000 conexiones el kernel sigue ocupado
        // un rato desarmándolas (TIME_WAIT, memoria de sockets), y lo que
        // se mida justo después sale más lento (se vio en la tormenta de
        // transferencias: ~94.000/s detrás de este escenario, ~118.000/s sola).
        Scenario {
            name: "idle",
            title: format!("{idle_clients} idle signed-in clients"),
            run: Box::new(move |o| idle(o, idle_clients)),
        },
    ]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {}", kernel.trim())
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("carga: {error}");
            std::process::exit(2);
        }
    };
    let machine = machine();
    println!(
        "carga: {machine}; {} run(s) per scenario, medians",
        options.runs
    );
    let ceiling = median(
        (0..options.runs)
            .map(|_| loopback_ceiling(1_000_000).unwrap_or(0.0))
            .collect(),
    );
    println!(
        "loopback ceiling (one write() per 100-byte line): {:.2} M lines/s",
        ceiling / 1e6
    );
    let mut json = serde_json::json!({
        "machine": machine,
        "runs": options.runs,
        "loopback_ceiling_lines_per_sec": ceiling,
        "scenarios": [],
    });
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| scenario | deliveries/s | x ceiling | p50 ms | p99 ms | max ms | sign-in s | server peak RSS MiB | server CPU s | notes |"
    );
    let _ = writeln!(
        table,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let mut failed = false;
    for scenario in scenarios(&options) {
        if options
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|n| n == scenario.name))
        {
            continue;
        }
        let mut measures = Vec::new();
        for run in 0..options.runs {
            match (scenario.run)(&options) {
                Ok(m) => {
                    println!(
                        "  {} run {}: {:.0}/s, p99 {:.2} ms, peak RSS {:.1} MiB",
                        scenario.name,
                        run + 1,
                        m.per_sec,
                        m.p99_ms,
                        m.server.peak_rss_kib as f64 / 1024.0
                    );
                    measures.push(m);
                }
                Err(error) => {
                    println!("  {} run {}: FAILED: {error}", scenario.name, run + 1);
                    failed = true;
                }
            }
        }
        if measures.is_empty() {
            continue;
        }
        let med = |f: fn(&Measure) -> f64| median(measures.iter().map(f).collect());
        let per_sec = med(|m| m.per_sec);
        let row = serde_json::json!({
            "name": scenario.name,
            "title": scenario.title,
            "clients": measures[0].clients,
            "runs_ok": measures.len(),
            "per_sec": per_sec,
            "ratio_to_ceiling": per_sec / ceiling,
            "deliveries": measures[0].deliveries,
            "transfers": med(|m| m.transfers as f64),
            "p50_ms": med(|m| m.p50_ms),
            "p99_ms": med(|m| m.p99_ms),
            "max_ms": med(|m| m.max_ms),
            "signin_secs": med(|m| m.signin_secs),
            "server_rss_mib": med(|m| m.server.rss_kib as f64 / 1024.0),
            "server_peak_rss_mib": med(|m| m.server.peak_rss_kib as f64 / 1024.0),
            "server_threads": med(|m| m.server.threads as f64),
            "server_cpu_secs": med(|m| m.server_cpu_secs),
            "note": measures[0].note,
        });
        let _ = writeln!(
            table,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {} |",
            scenario.title,
            per_sec,
            per_sec / ceiling,
            row["p50_ms"].as_f64().unwrap_or(0.0),
            row["p99_ms"].as_f64().unwrap_or(0.0),
            row["max_ms"].as_f64().unwrap_or(0.0),
            row["signin_secs"].as_f64().unwrap_or(0.0),
            row["server_peak_rss_mib"].as_f64().unwrap_or(0.0),
            row["server_cpu_secs"].as_f64().unwrap_or(0.0),
            measures[0].note,
        );
        if let Some(list) = json["scenarios"].as_array_mut() {
            list.push(row);
        }
    }
    println!("\n{table}");
    if let Some(dir) = options.json.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match serde_json::to_string_pretty(&json).map(|text| std::fs::write(&options.json, text)) {
        Ok(Ok(())) => println!("JSON: {}", options.json.display()),
        _ => println!("could not write {}", options.json.display()),
    }
    if failed {
        std::process::exit(1);
    }
}
