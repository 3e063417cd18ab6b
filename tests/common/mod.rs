//! Ayudas para las pruebas de integración: arrancar el binario `servidor` de
//! verdad en `127.0.0.1:0` con un directorio temporal, y hablarle por
//! sockets TCP reales, esperando líneas concretas (nunca con `sleep`).
//!
//! Cada lectura tiene un tiempo límite generoso: una línea que no llega hace
//! fallar la prueba con un mensaje claro en vez de colgarla.

#![allow(dead_code)] // Cada archivo de pruebas usa una parte distinta.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Cuánto se espera una línea antes de dar la prueba por fallida.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Un proceso `servidor` en marcha; se mata al soltarlo.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    console: Receiver<String>,
    errors: Arc<Mutex<String>>,
    /// La salida estándar del servidor, abierta y sin leer (ver
    /// [`Server::start_unread`]).
    _unread: Option<std::process::ChildStdout>,
}

impl Server {
    /// Arranca el servidor en `127.0.0.1:0` con hash barato y `extra` flags.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_at("127.0.0.1:0", data_dir, extra)
    }

    /// Arranca el servidor en `addr` y lee su primera línea para saber el puerto.
    pub fn start_at(addr: &str, data_dir: &Path, extra: &[&str]) -> Server {
        Server::launch(addr, data_dir, extra, None)
            .unwrap_or_else(|(code, stderr)| panic!("el servidor terminó ({code:?}): {stderr}"))
    }

    /// Arranca el servidor con el usuario `uid` (si se da; hace falta ser
    /// root) y lee su primera línea. Si el servidor termina sin escucharla,
    /// devuelve su código de salida y lo que escribió en stderr.
    pub fn launch(
        addr: &str,
        data_dir: &Path,
        extra: &[&str],
        uid: Option<u32>,
    ) -> Result<Server, (Option<i32>, String)> {
        Server::spawn(addr, data_dir, extra, uid, true)
    }

    /// Arranca el servidor con su salida estándar en una tubería que, tras
    /// la primera línea, nadie lee nunca (como `servidor | algo-colgado`, o
    /// Ctrl-S en su terminal): en cuanto se llenan sus 64 KiB, cada `write`
    /// a la consola se bloquearía.
    pub fn start_unread(data_dir: &Path, extra: &[&str]) -> Server {
        Server::spawn("127.0.0.1:0", data_dir, extra, None, false)
            .unwrap_or_else(|(code, stderr)| panic!("el servidor terminó ({code:?}): {stderr}"))
    }

    fn spawn(
        addr: &str,
        data_dir: &Path,
        extra: &[&str],
        uid: Option<u32>,
        read_console: bool,
    ) -> Result<Server, (Option<i32>, String)> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_servidor"));
        command
            .args(["--addr", addr, "--hash-cost", "minimal", "--data-dir"])
            .arg(data_dir)
            .args(for_this_build(extra))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(uid) = uid {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(uid);
        }
        let mut child = command.spawn().expect("no se pudo ejecutar servidor");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        let unread = if read_console {
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            None
        } else {
            // Solo la primera línea, de a un byte para no leer nada más.
            let mut first = Vec::new();
            let mut byte = [0u8];
            while stdout.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
                first.push(byte[0]);
            }
            if !first.is_empty() {
                let _ = tx.send(String::from_utf8_lossy(&first).into_owned());
            }
            Some(stdout)
        };
        let Ok(first) = rx.recv_timeout(PATIENCE) else {
            let status = child.wait().expect("wait");
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            return Err((status.code(), text));
        };
        // Lo que escriba después en stderr va a la salida de la prueba, y
        // queda guardado para [`Server::stderr`].
        let errors = Arc::new(Mutex::new(String::new()));
        let keep = Arc::clone(&errors);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                if let Ok(mut kept) = keep.lock() {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let addr = first
            .strip_prefix("Listening on ")
            .unwrap_or_else(|| panic!("primera línea inesperada: {first:?}"))
            .parse()
            .expect("dirección");
        Ok(Server {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            console: rx,
            errors,
            _unread: unread,
        })
    }

    /// Lo que el servidor escribió en stderr hasta ahora (un pánico
    /// aparecería aquí).
    pub fn stderr(&self) -> String {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Hilos y descriptores abiertos del proceso ahora (entradas de
    /// `/proc/PID/task` y `/proc/PID/fd`; solo Linux).
    pub fn threads_and_fds(&self) -> (usize, usize) {
        let count = |what: &str| {
            std::fs::read_dir(format!("/proc/{}/{what}", self.pid())).map_or(0, |e| e.count())
        };
        (count("task"), count("fd"))
    }

    /// Hilos y descriptores cuando dejan de cambiar por un segundo (con
    /// tope de 30 s): la línea de base de una prueba, tomada con la sala
    /// ya armada.
    pub fn steady_threads_and_fds(&self) -> (usize, usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = self.threads_and_fds();
        let mut since = Instant::now();
        while since.elapsed() < Duration::from_secs(1) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
            let now = self.threads_and_fds();
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        last
    }

    /// Espera (hasta 60 s) a que hilos y descriptores vuelvan a `base` o
    /// menos, y devuelve los últimos vistos. Se espera la condición, no un
    /// tiempo fijo: una conexión recién cerrada todavía tiene su segundo de
    /// despedida, y en una máquina cargada puede tardar más.
    pub fn threads_and_fds_back_to(&self, base: (usize, usize)) -> (usize, usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = self.threads_and_fds();
            if (now.0 <= base.0 && now.1 <= base.1) || Instant::now() >= deadline {
                return now;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Las líneas de consola que llegaron y nadie leyó todavía.
    pub fn console_so_far(&self) -> Vec<String> {
        self.console.try_iter().collect()
    }

    /// Espera que la consola del servidor muestre exactamente `line`.
    pub fn expect_console(&self, line: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.console.recv_timeout(left) {
                Ok(got) if got == line => return,
                Ok(got) => seen.push(got),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("la consola nunca mostró {line:?}; mostró {seen:#?}")
                }
            }
        }
    }

    /// Espera una línea de consola `<prefix>…<suffix>` y devuelve lo que
    /// hay entre los dos.
    pub fn expect_console_between(&self, prefix: &str, suffix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.console.recv_timeout(left) {
                Ok(got) if got.starts_with(prefix) && got.ends_with(suffix) => {
                    return got[prefix.len()..got.len() - suffix.len()].to_string();
                }
                Ok(got) => seen.push(got),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("la consola nunca mostró {prefix:?}…{suffix:?}; mostró {seen:#?}")
                }
            }
        }
    }

    /// Conecta un cliente nuevo.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Registra `name` (clave `pw-<name en minúsculas>`) con `dollars` y espera a estar en la sala.
    pub fn join(&self, name: &str, dollars: u64) -> Client {
        let mut client = self.connect();
        client.register(name, dollars);
        client
    }

    /// alice y bob en la sala (con 1 dólar cada uno), ya leído el aviso de
    /// que bob entró: el punto de partida de muchas pruebas.
    pub fn alice_and_bob(&self) -> (Client, Client) {
        let mut alice = self.join("alice", 1);
        let bob = self.join("bob", 1);
        alice.expect("[SERVER] Client: bob connected!");
        (alice, bob)
    }

    /// Mata el proceso con SIGKILL (como un corte de luz) y espera que muera.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// PID del proceso.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Envía la señal `signum` (por ejemplo `libc::SIGTERM`) al proceso.
    pub fn signal(&self, signum: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: `kill` no toma punteros; el proceso es hijo de esta prueba.
        assert_eq!(unsafe { libc::kill(pid, signum) }, 0, "kill");
    }

    /// Espera a que el proceso termine solo y devuelve su código de salida
    /// (`None` si lo mató una señal). Falla si no termina a tiempo.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "el servidor no terminó");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Un cliente TCP crudo, como `nc`.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub name: String,
    /// El token UDP que el servidor dio tras la bienvenida.
    pub token: String,
}

impl Client {
    /// Conecta sin leer nada.
    pub fn connect_raw(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// Conecta desde la dirección de origen `source` (otra de `127.0.0.0/8`:
    /// en Linux todas son del loopback), como si fuera otra máquina. `std`
    /// no permite `bind` antes de `connect`; `socket2` sí. Consume la
    /// primera línea, como [`Client::connect`].
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> Client {
        let mut client = Client::connect_raw_from(addr, source);
        client.expect_prompt();
        client
    }

    /// Como [`Client::connect_from`], sin leer nada.
    pub fn connect_raw_from(addr: SocketAddr, source: std::net::IpAddr) -> Client {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
        socket
            .bind(&SocketAddr::new(source, 0).into())
            .expect("bind de origen");
        socket.connect(&addr.into()).expect("connect");
        Client::from_stream(socket.into())
    }

    fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        Client {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
            name: String::new(),
            token: String::new(),
        }
    }

    /// Conecta y consume la primera línea (cómo iniciar sesión).
    pub fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_raw(addr);
        client.expect_prompt();
        client
    }

    fn expect_prompt(&mut self) {
        let prompt = self.line();
        assert!(
            prompt.starts_with("[SERVER] Client: Sign in with :login"),
            "{prompt:?}"
        );
    }

    /// Envía una línea (agrega el `\n`).
    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// Desde ahora, un envío que no avanza en [`PATIENCE`] falla en vez de
    /// esperar para siempre (para probar que el servidor sigue leyendo).
    pub fn give_up_writing_after_patience(&self) {
        self.writer
            .set_write_timeout(Some(PATIENCE))
            .expect("timeout");
    }

    /// Envía bytes tal cual.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// La siguiente línea del servidor, sin `\n`. Falla si no llega a tiempo
    /// o si la conexión se cerró.
    pub fn line(&mut self) -> String {
        let mut raw = Vec::new();
        match self.reader.read_until(b'\n', &mut raw) {
            Ok(0) => panic!("{}: la conexión se cerró esperando una línea", self.name),
            Ok(_) => {}
            Err(e) => panic!("{}: no llegó ninguna línea: {e}", self.name),
        }
        assert_eq!(raw.pop(), Some(b'\n'), "línea sin \\n: {raw:?}");
        String::from_utf8(raw).expect("el servidor envió UTF-8 inválido")
    }

    /// Espera exactamente `expected` como siguiente línea.
    pub fn expect(&mut self, expected: &str) {
        let got = self.line();
        assert_eq!(got, expected, "{} recibió otra cosa", self.name);
    }

    /// Comprueba que no llegó nada más: pide `:u` y exige que la respuesta sea
    /// lo siguiente que llega. Solo sirve dentro de la sala.
    pub fn expect_nothing_pending(&mut self) {
        self.send(":u");
        assert_users_line(&self.line(), &self.name);
    }

    /// Registra una cuenta y responde la pregunta del saldo.
    pub fn register(&mut self, name: &str, dollars: u64) {
        self.name = name.to_string();
        self.send(&format!(":register {name} pw-{}", name.to_lowercase()));
        self.expect_welcome();
        self.expect("[SERVER] Client: What is your balance?");
        self.send(&dollars.to_string());
        self.expect(&format!(
            "[SERVER] Client: The balance of {dollars} has been set to your account."
        ));
    }

    /// Entra a una cuenta existente con saldo y devuelve el saldo anunciado.
    pub fn login(&mut self, name: &str) -> u64 {
        self.name = name.to_string();
        self.send(&format!(":login {name} pw-{}", name.to_lowercase()));
        self.expect_welcome();
        dollars_in(&self.line())
    }

    /// Espera la bienvenida y el token UDP que la sigue (y lo guarda).
    pub fn expect_welcome(&mut self) {
        self.expect("Welcome to the best chat in the universe!");
        self.token = token_in(&self.line(), "[SERVER] Client: Your UDP token is ");
    }

    /// Pide `:funds` y devuelve el saldo.
    pub fn funds(&mut self) -> u64 {
        self.send(":funds");
        dollars_in(&self.line())
    }

    /// Espera que el servidor cierre la conexión sin enviar nada más.
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "llegó {:?} antes del cierre",
                String::from_utf8_lossy(&rest)
            ),
            // Un RST también es un cierre.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("la conexión no se cerró: {e}"),
        }
    }

    /// Corta la conexión sin `:q`.
    pub fn drop_connection(self) {
        let _ = self.writer.shutdown(Shutdown::Both);
    }

    /// El socket, para pruebas que necesitan manejarlo directamente.
    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }
}

/// El saldo de `[SERVER] Client: You have N dollars.`
pub fn dollars_in(line: &str) -> u64 {
    line.strip_prefix("[SERVER] Client: You have ")
        .and_then(|rest| rest.strip_suffix(" dollars."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("se esperaba el saldo y llegó {line:?}"))
}

/// Exige que `got` sea la respuesta a `:u`: si no, algo llegó antes.
fn assert_users_line(got: &str, who: &str) {
    assert!(
        got.starts_with("[SERVER] Client: Connected users: "),
        "{who} tenía pendiente {got:?}"
    );
}

/// El token de una línea `<prefix><TOKEN>.`, comprobando su forma: 32
/// caracteres `0-9 a-f` (128 bits).
pub fn token_in(line: &str, prefix: &str) -> String {
    let token = line
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix('.'))
        .unwrap_or_else(|| panic!("se esperaba {prefix:?} y llegó {line:?}"));
    assert!(
        token.len() == 32
            && token
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{token:?}"
    );
    token.to_string()
}

/// La cookie de `[SERVER] Client: Cookie <COOKIE>, resend with it first.`
pub fn cookie_in(line: &str) -> Option<String> {
    line.strip_prefix("[SERVER] Client: Cookie ")
        .and_then(|rest| rest.strip_suffix(", resend with it first."))
        .map(str::to_string)
}

/// Un cliente UDP crudo, como `nc -u`: un datagrama por línea.
pub struct UdpClient {
    socket: std::net::UdpSocket,
    server: SocketAddr,
    pub name: String,
    pub token: String,
    /// Las líneas ya recibidas que todavía no se leyeron: el servidor
    /// completo junta en un datagrama lo que envía a una dirección durante
    /// una ráfaga.
    pending: std::cell::RefCell<std::collections::VecDeque<String>>,
}

impl UdpClient {
    /// Un socket UDP en `127.0.0.1:0` que le habla a `server`.
    pub fn new(server: SocketAddr) -> UdpClient {
        UdpClient::new_from(server, [127, 0, 0, 1].into())
    }

    /// Un socket UDP en `source:0` (otra dirección del loopback).
    pub fn new_from(server: SocketAddr, source: std::net::IpAddr) -> UdpClient {
        let socket = std::net::UdpSocket::bind((source, 0)).expect("bind");
        socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
        UdpClient {
            socket,
            server,
            name: String::new(),
            token: String::new(),
            pending: Default::default(),
        }
    }

    /// La dirección de este socket, tal como la ve el servidor.
    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("local_addr")
    }

    /// Envía un datagrama tal cual.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).expect("send_to");
    }

    /// Envía `<token> <line>` (con el token de la sesión), rellenado con
    /// espacios hasta 64 bytes como hace `cliente`: el servidor responde a
    /// una dirección sin probar a lo sumo el triple de lo que recibió.
    pub fn send(&self, line: &str) {
        self.send_padded(&format!("{} {line}", self.token));
    }

    /// Envía `text` rellenado con espacios hasta 64 bytes, y su `\n`.
    pub fn send_padded(&self, text: &str) {
        let pad = 63usize.saturating_sub(text.len());
        self.send_raw(format!("{text}{}\n", " ".repeat(pad)).as_bytes());
    }

    /// Envía `text` (rellenado) y devuelve la primera respuesta que no es
    /// una cookie: si el servidor pide probar la dirección, repite `text`
    /// con la cookie delante, como `cliente`.
    pub fn ask(&self, text: &str) -> String {
        self.send_padded(text);
        let first = self.line();
        match cookie_in(&first) {
            Some(cookie) => {
                self.send_raw(format!("{cookie} {text}\n").as_bytes());
                self.line()
            }
            None => first,
        }
    }

    /// Usa el token de otra sesión (la TCP del mismo usuario) desde este
    /// socket: la dirección es nueva para la sesión, así que primero la
    /// prueba con la cookie (`<TOKEN> :ping` → cookie → `<COOKIE> <TOKEN>
    /// :ping` → pong).
    pub fn adopt(&mut self, token: &str) {
        self.token = token.to_string();
        let pong = self.ask(&format!("{token} :ping"));
        assert_eq!(pong, "[SERVER] Client: pong", "{}", self.name);
    }

    /// La próxima línea, sin su `\n`: de un datagrama anterior que traía
    /// varias, o del próximo. Cada línea de un datagrama termina en `\n`.
    pub fn line(&self) -> String {
        if let Some(line) = self.pending.borrow_mut().pop_front() {
            return line;
        }
        let mut buffer = vec![0u8; 70_000];
        let (n, from) = self
            .socket
            .recv_from(&mut buffer)
            .unwrap_or_else(|e| panic!("{}: no llegó ningún datagrama: {e}", self.name));
        assert_eq!(from, self.server, "datagrama de otro origen");
        let text = String::from_utf8(buffer[..n].to_vec()).expect("UTF-8");
        let lines = text
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("sin \\n: {text:?}"));
        let mut pending = self.pending.borrow_mut();
        pending.extend(lines.split('\n').map(str::to_string));
        pending.pop_front().unwrap_or_default()
    }

    /// Espera exactamente `expected` como siguiente datagrama.
    pub fn expect(&self, expected: &str) {
        assert_eq!(self.line(), expected, "{} recibió otra cosa", self.name);
    }

    /// La bienvenida por UDP y el token que la sigue (que se guarda).
    pub fn expect_welcome(&mut self) {
        self.expect("Welcome to the best chat in the universe!");
        self.token = token_in(&self.line(), "[SERVER] Client: Your token is ");
    }

    /// Registra `name` (clave `pw-<name>`) por UDP, con la cookie, y
    /// responde el saldo.
    pub fn register(&mut self, name: &str, dollars: u64) {
        self.name = name.to_string();
        let first = self.ask(&format!(":register {name} pw-{}", name.to_lowercase()));
        assert_eq!(first, "Welcome to the best chat in the universe!", "{name}");
        self.token = token_in(&self.line(), "[SERVER] Client: Your token is ");
        self.expect("[SERVER] Client: What is your balance?");
        self.send(&dollars.to_string());
        self.expect(&format!(
            "[SERVER] Client: The balance of {dollars} has been set to your account."
        ));
    }

    /// Comprueba que no llegó nada más (pide `:u`; solo dentro de la sala).
    pub fn expect_nothing_pending(&self) {
        self.send(":u");
        assert_users_line(&self.line(), &self.name);
    }
}

impl Server {
    /// Un usuario solo-UDP ya en la sala.
    pub fn join_udp(&self, name: &str, dollars: u64) -> UdpClient {
        let mut client = UdpClient::new(self.addr);
        client.register(name, dollars);
        client
    }
}

/// Un generador congruencial para las pruebas al azar: sin dependencias y
/// reproducible con su semilla.
pub struct Lcg(pub u64);

impl Lcg {
    /// Un generador con una semilla tomada del reloj, que se imprime para
    /// poder repetir una corrida que falló.
    pub fn from_clock() -> Lcg {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        eprintln!("semilla: {seed}");
        Lcg(seed)
    }

    /// 31 bits al azar.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Un número de `0` a `n - 1`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` bytes al azar.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Las opciones de `extra` para el servidor de esta versión. En la del
/// curso (`--no-default-features`) se quitan las que apagan un límite del
/// programa completo (`--max-lines-per-sec 0`...): el curso no tiene
/// límites, así que sin ellas se porta igual. Cualquier otra opción del
/// programa completo queda, y el servidor del curso la rechaza: la prueba
/// que la usa es del programa completo.
pub fn for_this_build<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    if cfg!(feature = "extra") {
        return extra.to_vec();
    }
    const LIMITS: &[&str] = &[
        "--max-lines-per-sec",
        "--max-signin-failures",
        "--max-signin-failures-per-ip",
        "--max-registrations-per-ip",
    ];
    let mut kept = Vec::new();
    let mut rest = extra.iter();
    while let Some(&flag) = rest.next() {
        if LIMITS.contains(&flag) {
            let value = rest.next().copied();
            if value == Some("0") {
                continue;
            }
            kept.push(flag);
            kept.extend(value);
        } else {
            kept.push(flag);
        }
    }
    kept
}

/// `cliente` con la entrada abierta y cada línea de su salida en un canal.
pub struct Running {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: Receiver<String>,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cliente"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cliente");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Running {
            child,
            stdin,
            lines,
        }
    }

    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("entrada abierta");
        stdin.write_all(text.as_bytes()).expect("escribir");
        stdin.flush().expect("escribir");
    }

    /// Espera una línea de la salida igual a `line`.
    pub fn expect(&self, line: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(got) if got == line => return,
                Ok(got) => seen.push(got),
                Err(_) => break,
            }
        }
        panic!("el cliente no mostró {line:?}; mostró {seen:?}");
    }

    /// Junta las líneas de la salida hasta la primera que cumple `last`
    /// (incluida), esperando a lo sumo `patience` en total.
    pub fn lines_until(&self, last: impl Fn(&str) -> bool, patience: Duration) -> Vec<String> {
        let deadline = Instant::now() + patience;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(got) => {
                    let done = last(&got);
                    seen.push(got);
                    if done {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "el cliente no mostró lo esperado en {patience:?}; lo último: {:?}",
            seen.iter().rev().take(5).collect::<Vec<_>>()
        );
    }

    /// Cierra la entrada (el fin de la entrada equivale a `:q`) y espera la
    /// salida: el código, lo que escribió en `stderr` y las líneas de
    /// `stdout` que nadie había leído.
    pub fn finish(mut self) -> (Option<i32>, String, Vec<String>) {
        drop(self.stdin.take());
        let output = self.child.wait_with_output().expect("esperar al cliente");
        // El hilo lector termina con el fin de `stdout`: el canal se vacía.
        let rest = self.lines.iter().collect();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            rest,
        )
    }
}
