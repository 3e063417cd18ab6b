//! El servidor: abre el socket TCP que escucha y el socket UDP en el mismo
//! puerto, acepta conexiones y levanta un hilo por cliente TCP (enunciado
//! 003, punto 6), que lee líneas y se las pasa a su [`Session`]; el lado UDP
//! corre en un solo hilo (`udp`). Con `--echo` corre en cambio el servidor
//! de eco (`echo`).
//!
//! Este módulo es la parte delgada que toca la red: las reglas están en
//! `session`, `ledger` y `protocolo`, que se prueban sin sockets. También
//! lee la línea de comandos (`--addr`, `--data-dir`...).

use crate::abuse::Limits;
use crate::console::Logger;
use crate::flusher::DEFAULT_TOTAL_QUEUE_LIMIT;
use crate::framing::{ElasticReader, Frame, read_frame};
use crate::ledger::Ledger;
use crate::outbox::{DEFAULT_QUEUE_LIMIT, Flusher, Outbox, WRITE_TIMEOUT, WriteBatch};
use crate::password::HashCost;
use crate::protocolo::Event;
use crate::protocolo::MAX_LINE_BYTES;
use crate::session::{Chat, Console, Flow, Session, send};
use crate::storage::{DirLock, StorageError};
use crate::udp::{self, UdpServer};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Dirección por defecto: la del código base del curso (enunciado 002).
pub const DEFAULT_ADDR: &str = "127.0.0.1:5500";

/// Directorio de datos por defecto.
pub const DEFAULT_DATA_DIR: &str = "./datos";

/// Cuánto se espera, como mucho, para entregar la despedida al cerrar.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// Tamaño del búfer de lectura de un cliente que espera, en bytes (ver
/// [`ElasticReader`]).
const READ_BUFFER_IDLE: usize = 512;

/// Tamaño del búfer de lectura de un cliente que envía una ráfaga, en
/// bytes: unas 80 líneas de 100 bytes por `read`, y por tanda.
const READ_BUFFER_BURST: usize = 8 * 1024;

/// Largo de la cola de conexiones ya establecidas que esperan su `accept`
/// (el `backlog` de `listen(2)`). `std` usa 128; con ráfagas de cientos de
/// conexiones la cola se llena, y el kernel descarta el último ACK del
/// handshake: el cliente cree estar conectado, el servidor nunca lo acepta,
/// y como en este protocolo habla primero el servidor, ambos esperan para
/// siempre (se vio en el benchmark del issue #5). Linux lo recorta a
/// `net.core.somaxconn` (4096 por defecto).
pub const LISTEN_BACKLOG: i32 = 1024;

/// El texto de `servidor --help`.
pub const USAGE: &str = "\
Uso: servidor [opciones]

Servidor de chat con cuentas y un banco: TCP (un hilo por cliente) y UDP
(un hilo para todos) en la misma dirección y número de puerto.

Opciones:
  --addr HOST:PUERTO       dirección donde escuchar, TCP y UDP (por defecto
                           127.0.0.1:5500; puerto 0 = uno libre; IPv6 como [::1]:5500)
  --data-dir DIR           directorio de datos: diario.jsonl y usuarios.json
                           (por defecto ./datos); un solo servidor por
                           directorio (lo protege el candado DIR/.lock)
  --max-queue-bytes N      bytes pendientes por cliente antes de desconectarlo
                           (por defecto 1048576 = 1 MiB)
  --max-total-queue-bytes N
                           bytes pendientes entre todos los clientes atascados;
                           al pasarlo se desconecta primero al que más debe
                           (por defecto 67108864 = 64 MiB; 0 = sin techo)
  --hash-cost COSTO        owasp (por defecto: Argon2id, 19 MiB, t=2) o minimal
                           (solo para pruebas y benchmarks: sin seguridad)
  --udp-idle-secs N        segundos sin datagramas tras los que se cierra una
                           sesión solo-UDP (por defecto 300)
  --max-clients N          conexiones TCP abiertas a la vez; la siguiente recibe
                           \"The server is full\" y se cierra (por defecto 1000;
                           0 = sin límite)
  --max-clients-per-ip N   conexiones TCP abiertas a la vez desde una misma
                           dirección IP; la siguiente recibe \"There are too many
                           connections from your address\" (por defecto 100;
                           0 = sin límite)
  --signin-timeout-secs N  segundos para iniciar sesión; después se avisa y se
                           cierra la conexión (por defecto 60; 0 = sin límite)
  --keepalive-secs N       segundos sin tráfico tras los que se sondea a un
                           cliente TCP (6 sondas, una cada N/6 s): uno cuya red
                           desapareció se anuncia como desconectado a los 2 N s
                           (por defecto 60, o sea 2 min; 0 = sin sondas)
  --max-lines-per-sec N    líneas por segundo por usuario (TCP y UDP juntos), con
                           ráfagas de 3 s de líneas; por TCP, las de más esperan
                           su turno (no se pierde ninguna: el emisor va más
                           lento); por UDP se descartan y se cuentan
                           (por defecto 20; 0 = sin límite)
  --max-signin-failures N  contraseñas fallidas por conexión (después se cierra)
                           y por cuenta, vengan de donde vengan (después la
                           cuenta se bloquea 30 s, el doble cada vez, hasta
                           15 min) (por defecto 5; 0 = sin límite)
  --max-signin-failures-per-ip N
                           contraseñas fallidas desde una dirección IP
                           comprobada (una conexión TCP, o un datagrama que
                           devolvió su cookie: no una dirección que se
                           falsifica gratis); después se bloquea como una
                           cuenta (por defecto 50; 0 = sin límite)
  --max-registrations-per-ip N
                           :register desde una dirección IP comprobada sin una
                           hora de calma; después la dirección no crea cuentas
                           por 30 s, el doble cada vez (por defecto 100;
                           0 = sin límite)
  --echo                   en vez del chat, el servidor de eco TCP multihilo
                           (enunciado 002): responde cada línea con la misma línea
  --help                   muestra esta ayuda

La primera línea que imprime es la dirección real: \"Listening on HOST:PUERTO\".
Con SIGINT (Ctrl+C) o SIGTERM se apaga en orden: avisa a todos, deja los
datos en disco y termina con código 0.
";

/// La configuración del servidor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Dirección donde escuchar (`HOST:PUERTO`, IPv4 o IPv6).
    pub addr: String,
    /// Directorio con el diario (`diario.jsonl`) y la foto (`usuarios.json`).
    pub data_dir: PathBuf,
    /// Límite de la cola de salida de cada cliente, en bytes.
    pub max_queue_bytes: usize,
    /// Techo de bytes pendientes entre todas las colas atascadas; 0 = sin
    /// techo (ver `outbox::Flusher`).
    pub max_total_queue_bytes: usize,
    /// Costo de los hashes de contraseñas nuevas.
    pub hash_cost: HashCost,
    /// Inactividad tras la que se cierra una sesión solo-UDP.
    pub udp_idle: Duration,
    /// Correr el servidor de eco en vez del chat.
    pub echo: bool,
    /// Conexiones TCP abiertas a la vez como máximo; 0 = sin límite.
    pub max_clients: usize,
    /// Conexiones TCP abiertas a la vez desde una misma dirección IP como
    /// máximo; 0 = sin límite.
    pub max_clients_per_ip: usize,
    /// Tiempo para iniciar sesión tras conectar; `None` = sin límite.
    pub signin_timeout: Option<Duration>,
    /// Tiempo sin tráfico tras el que el kernel sondea a un cliente TCP
    /// (ver `keepalive`); `None` = sin sondas.
    pub keepalive: Option<Duration>,
    /// Líneas por segundo por usuario y contraseñas fallidas por conexión
    /// y por dirección (0 = sin límite).
    pub limits: Limits,
}

/// Conexiones TCP simultáneas por defecto: un aula entera con margen, y
/// lejos de los límites del sistema (hilos, descriptores).
pub const DEFAULT_MAX_CLIENTS: usize = 1000;

/// Conexiones TCP simultáneas por defecto desde una misma dirección: un
/// curso entero en una sola máquina (todos en `127.0.0.1`, o detrás de una
/// NAT) con margen, y una décima parte del total, así que quien abre
/// sockets quietos desde una dirección no deja afuera a los demás.
pub const DEFAULT_MAX_CLIENTS_PER_IP: usize = 100;

/// Tiempo por defecto para iniciar sesión: quien se conecta y no hace nada
/// (o envía de a un byte, *slowloris*) no ocupa un hilo para siempre.
pub const DEFAULT_SIGNIN_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: DEFAULT_ADDR.into(),
            data_dir: DEFAULT_DATA_DIR.into(),
            max_queue_bytes: DEFAULT_QUEUE_LIMIT,
            max_total_queue_bytes: DEFAULT_TOTAL_QUEUE_LIMIT,
            hash_cost: HashCost::Owasp,
            udp_idle: udp::DEFAULT_IDLE,
            echo: false,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_clients_per_ip: DEFAULT_MAX_CLIENTS_PER_IP,
            signin_timeout: Some(DEFAULT_SIGNIN_TIMEOUT),
            keepalive: Some(crate::keepalive::DEFAULT_IDLE),
            limits: Limits::default(),
        }
    }
}

/// Lee los argumentos (sin el nombre del programa). Devuelve `Ok(None)` si
/// se pidió `--help`. Error: un texto que explica el argumento malo.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.into())),
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        if flag == "--echo" {
            config.echo = true;
            continue;
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--addr" => config.addr = value()?,
            "--data-dir" => config.data_dir = value()?.into(),
            "--max-queue-bytes" => {
                let text = value()?;
                config.max_queue_bytes = text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("--max-queue-bytes: {text:?} is not a positive number")
                })?;
            }
            "--max-total-queue-bytes" => {
                config.max_total_queue_bytes = parse_count("--max-total-queue-bytes", &value()?)?;
            }
            "--udp-idle-secs" => {
                let text = value()?;
                let secs: u64 =
                    text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--udp-idle-secs: {text:?} is not a positive number")
                    })?;
                config.udp_idle = Duration::from_secs(secs);
            }
            "--max-clients" => config.max_clients = parse_count("--max-clients", &value()?)?,
            "--max-clients-per-ip" => {
                config.max_clients_per_ip = parse_count("--max-clients-per-ip", &value()?)?;
            }
            "--signin-timeout-secs" => {
                let secs: u64 = parse_count("--signin-timeout-secs", &value()?)?;
                config.signin_timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "--keepalive-secs" => {
                let secs: u64 = parse_count("--keepalive-secs", &value()?)?;
                config.keepalive = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "--max-lines-per-sec" => {
                config.limits.lines_per_sec = parse_count("--max-lines-per-sec", &value()?)?;
            }
            "--max-signin-failures" => {
                config.limits.max_signin_failures =
                    parse_count("--max-signin-failures", &value()?)?;
            }
            "--max-registrations-per-ip" => {
                config.limits.max_registrations_per_ip =
                    parse_count("--max-registrations-per-ip", &value()?)?;
            }
            "--max-signin-failures-per-ip" => {
                config.limits.max_signin_failures_per_ip =
                    parse_count("--max-signin-failures-per-ip", &value()?)?;
            }
            "--hash-cost" => {
                let text = value()?;
                config.hash_cost = HashCost::parse(&text)
                    .ok_or_else(|| format!("--hash-cost: {text:?} is not owasp or minimal"))?;
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(Some(config))
}

/// Lee un número de un flag donde 0 significa "sin límite". Error: un
/// texto que nombra el flag.
fn parse_count<N: std::str::FromStr>(flag: &str, text: &str) -> Result<N, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a number (0 turns the limit off)"))
}

/// Por qué el servidor no pudo arrancar.
#[derive(Debug)]
pub enum ServerError {
    /// El archivo de datos no se puede usar.
    Storage(StorageError),
    /// No se pudo abrir el socket en esa dirección (en uso, sin permiso...).
    Bind { addr: String, error: io::Error },
    /// No se pudo crear un hilo del servidor.
    Thread(io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Storage(error) => error.fmt(f),
            ServerError::Bind { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
            ServerError::Thread(error) => write!(f, "cannot start a thread: {error}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Un servidor con sus sockets ya abiertos, listo para aceptar.
pub struct Server {
    tcp: Listener,
    udp: UdpServer,
}

impl Server {
    /// Toma el candado del directorio de datos, abre los sockets y carga
    /// las cuentas, en ese orden: un segundo servidor sobre el mismo
    /// directorio se detiene antes de abrir ningún socket o tocar ningún
    /// archivo de datos, y uno cuyo puerto está ocupado se detiene antes de
    /// leer (y recortar) el diario. Los sockets: TCP (`socket` + `bind` +
    /// `listen`, en una sola llamada de `std`) y UDP (`socket` + `bind`) en
    /// la misma dirección y el mismo número de puerto. Los puertos TCP y UDP
    /// son espacios distintos: el 5500/TCP y el 5500/UDP no chocan.
    /// `console` recibe las líneas de consola. Errores: [`ServerError`].
    pub fn bind(config: &Config, console: Console) -> Result<Server, ServerError> {
        let lock = DirLock::acquire(&config.data_dir).map_err(ServerError::Storage)?;
        let bind_error = |error| ServerError::Bind {
            addr: config.addr.clone(),
            error,
        };
        let listener = TcpListener::bind(&config.addr).map_err(bind_error)?;
        set_backlog(&listener, LISTEN_BACKLOG).map_err(bind_error)?;
        // Con el puerto 0, el UDP usa el número que el kernel eligió para TCP.
        let tcp_addr = listener.local_addr().map_err(bind_error)?;
        let socket = UdpSocket::bind(tcp_addr).map_err(bind_error)?;
        let ledger = Ledger::open_locked(lock, config.hash_cost).map_err(ServerError::Storage)?;
        let chat = Arc::new(Chat::new(ledger, config.limits, console));
        let flusher = Flusher::start(config.max_total_queue_bytes).map_err(ServerError::Thread)?;
        let udp = UdpServer::new(
            socket,
            Arc::clone(&chat),
            Arc::clone(&flusher),
            config.max_queue_bytes,
            config.udp_idle,
        );
        let tcp = Listener {
            listener,
            chat,
            flusher,
            connections: Arc::new(Connections::default()),
            max_queue_bytes: config.max_queue_bytes,
            max_clients: config.max_clients,
            max_clients_per_ip: config.max_clients_per_ip,
            signin_timeout: config.signin_timeout,
            keepalive: config.keepalive,
        };
        Ok(Server { tcp, udp })
    }

    /// La dirección real del socket (con el puerto elegido si se pidió el 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.listener.local_addr()
    }

    /// Arranca el hilo UDP y corre el bucle de `accept`: por cada conexión,
    /// un hilo. No termina nunca salvo que el socket falle de forma
    /// irrecuperable.
    pub fn serve(self) -> io::Result<()> {
        let Server { tcp, udp } = self;
        let chat = Arc::clone(&tcp.chat);
        thread::Builder::new().name("udp".into()).spawn(move || {
            if let Err(error) = udp.serve() {
                chat.log(&format!("the UDP socket failed: {error}"));
            }
        })?;
        tcp.accept_loop()
    }
}

/// Vuelve a llamar a `listen(2)` sobre un socket que ya escucha, con otro
/// `backlog`: en Linux eso solo cambia el largo de la cola. `std` no ofrece
/// esta llamada, así que se declara aquí (es la misma función de C que usa
/// `std` por dentro). Error: el de `listen`.
#[cfg(unix)]
fn set_backlog(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    unsafe extern "C" {
        fn listen(fd: i32, backlog: i32) -> i32;
    }
    // SAFETY: el descriptor es un socket abierto que `listener` mantiene
    // vivo durante la llamada; `listen` no toma punteros.
    if unsafe { listen(listener.as_raw_fd(), backlog) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// En otros sistemas se queda el `backlog` de `std`.
#[cfg(not(unix))]
fn set_backlog(_: &TcpListener, _: i32) -> io::Result<()> {
    Ok(())
}

/// La parte TCP del servidor: el socket que escucha y lo que cada hilo de
/// cliente necesita.
struct Listener {
    listener: TcpListener,
    chat: Arc<Chat>,
    flusher: Arc<Flusher>,
    connections: Arc<Connections>,
    max_queue_bytes: usize,
    max_clients: usize,
    max_clients_per_ip: usize,
    signin_timeout: Option<Duration>,
    keepalive: Option<Duration>,
}

/// Las conexiones TCP abiertas, cada una con su cola: para los límites de
/// `--max-clients` y `--max-clients-per-ip`, y para despedir a todos al
/// apagar (`shutdown`).
#[derive(Default)]
pub struct Connections {
    open: Mutex<Open>,
    next_id: AtomicU64,
}

/// Lo que protege el candado del registro.
#[derive(Default)]
struct Open {
    /// Cada conexión, con su dirección y su cola.
    by_id: HashMap<u64, (IpAddr, Arc<Outbox>)>,
    /// Cuántas conexiones abiertas tiene cada dirección.
    per_ip: HashMap<IpAddr, usize>,
}

/// Por qué no entra una conexión (ver [`Connections::try_add`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Ya hay `--max-clients` abiertas.
    Full,
    /// Su dirección ya tiene `--max-clients-per-ip` abiertas.
    TooManyFromAddress,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Anota una conexión desde `ip` si hay lugar: menos de `max` en total
    /// y menos de `max_per_ip` desde esa dirección (0: sin límite). Devuelve
    /// su número, o por qué no entra.
    fn try_add(
        &self,
        outbox: &Arc<Outbox>,
        ip: IpAddr,
        max: usize,
        max_per_ip: usize,
    ) -> Result<u64, Refusal> {
        let mut open = self.lock();
        if max > 0 && open.by_id.len() >= max {
            return Err(Refusal::Full);
        }
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if max_per_ip > 0 && from_ip >= max_per_ip {
            return Err(Refusal::TooManyFromAddress);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        open.by_id.insert(id, (ip, Arc::clone(outbox)));
        open.per_ip.insert(ip, from_ip + 1);
        Ok(id)
    }

    fn remove(&self, id: u64) {
        let mut open = self.lock();
        let Some((ip, _)) = open.by_id.remove(&id) else {
            return;
        };
        if let Some(count) = open.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }

    /// Las colas de todas las conexiones abiertas.
    pub fn outboxes(&self) -> Vec<Arc<Outbox>> {
        self.lock()
            .by_id
            .values()
            .map(|(_, outbox)| Arc::clone(outbox))
            .collect()
    }
}

/// Borra la conexión del registro al terminar su hilo, también si el hilo
/// entra en pánico: un lugar de `--max-clients` nunca queda ocupado por un
/// cliente que ya no está.
struct Registered {
    connections: Arc<Connections>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.remove(self.id);
    }
}

impl Listener {
    fn accept_loop(self) -> io::Result<()> {
        loop {
            let (stream, addr) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // Sin descriptores libres (EMFILE) o una conexión abortada
                // antes del accept: se informa y se sigue atendiendo.
                Err(error) => {
                    self.chat.log(&format!("accept failed: {error}"));
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            if let Err(error) = self.start_client(stream, addr) {
                self.chat.log(&format!("cannot serve {addr}: {error}"));
            }
        }
    }

    fn start_client(&self, stream: TcpStream, addr: SocketAddr) -> io::Result<()> {
        // Sin Nagle: cada línea sale de inmediato, sin esperar a juntar más.
        stream.set_nodelay(true)?;
        // Un cliente cuya red desaparece no envía FIN: sin sondas, su hilo
        // esperaría para siempre y el usuario seguiría "conectado".
        if let Some(idle) = self.keepalive {
            crate::keepalive::enable(&stream, idle)?;
        }
        // En Linux la cola nunca espera a un socket lleno (`MSG_DONTWAIT`,
        // ver `outbox`); en otros sistemas, a lo sumo esto.
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        if self.chat.is_shutting_down() {
            return Ok(());
        }
        let stream = Arc::new(stream);
        let outbox = Outbox::new(Arc::clone(&stream), self.max_queue_bytes, &self.flusher);
        let added = self.connections.try_add(
            &outbox,
            addr.ip(),
            self.max_clients,
            self.max_clients_per_ip,
        );
        let id = match added {
            Ok(id) => id,
            Err(refusal) => {
                // Sin hilo ni cola: una línea, el FIN, y se sigue con los demás.
                let (notice, why) = match refusal {
                    Refusal::Full => (Event::ServerFull, "the server is full"),
                    Refusal::TooManyFromAddress => (
                        Event::TooManyFromAddress,
                        "too many connections from that address",
                    ),
                };
                let _ = (&*stream).write_all(notice.to_line().as_bytes());
                let _ = stream.shutdown(Shutdown::Write);
                self.chat
                    .log(&format!("Connection from {addr} refused: {why}"));
                return Ok(());
            }
        };
        let registered = Registered {
            connections: Arc::clone(&self.connections),
            id,
        };
        let client = Client {
            chat: Arc::clone(&self.chat),
            stream,
            outbox,
            peer: format!("{addr} (TCP)"),
            ip: addr.ip(),
            signin_timeout: self.signin_timeout,
        };
        thread::Builder::new()
            .name(format!("client {addr}"))
            .spawn(move || client.serve(registered))?;
        Ok(())
    }
}

/// Lo que necesita el hilo de un cliente.
struct Client {
    chat: Arc<Chat>,
    stream: Arc<TcpStream>,
    outbox: Arc<Outbox>,
    /// Cómo se ve el cliente en la consola: `127.0.0.1:51234 (TCP)`.
    peer: String,
    /// Su dirección IP, para el límite de contraseñas fallidas.
    ip: IpAddr,
    signin_timeout: Option<Duration>,
}

impl Client {
    /// El hilo de un cliente: saluda, lee líneas hasta `:q` o el fin de la
    /// conexión, y al salir (aun si algo entró en pánico) cierra la sesión,
    /// para que la cuenta no quede "conectada" para siempre. `registered`
    /// es su lugar en `--max-clients`, que se libera antes de anunciar el
    /// cierre: quien ve `Connection closed` y se conecta encuentra el lugar.
    fn serve(self, registered: Registered) {
        let Client {
            chat,
            stream,
            outbox,
            peer,
            ip,
            signin_timeout,
        } = self;
        chat.log(&format!("Connection from {peer}"));
        let mut session = Session::start(&chat, Arc::clone(&outbox), peer.clone(), ip);
        let signin = SigninDeadline::new(&stream, signin_timeout);
        let mut reader = ElasticReader::new(signin, READ_BUFFER_IDLE, READ_BUFFER_BURST);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut line = Vec::new();
            loop {
                if session.is_signed_in() {
                    reader.get_mut().lift();
                }
                // Puede bloquearse esperando datos: aquí no hay tanda abierta.
                let mut frame = read_frame(&mut reader, &mut line, MAX_LINE_BYTES);
                // Todas las líneas que ya llegaron se atienden en una tanda:
                // sus entregas salen juntas, un `write` por destinatario.
                let mut batch = WriteBatch::begin();
                loop {
                    // Una línea descartada por larga también cuenta.
                    let paced = match frame {
                        Ok(Frame::Line) => session.pace(&chat, &line, Instant::now()),
                        Ok(Frame::TooLong) => session.pace(&chat, b"", Instant::now()),
                        _ => None,
                    };
                    if let Some(wait) = paced {
                        // Frenar al que envía de más (`--max-lines-per-sec`):
                        // este hilo no lee ni atiende nada durante `wait`, así
                        // que el búfer del kernel se llena y TCP detiene al
                        // emisor. Antes, lo ya atendido sale (la tanda se
                        // cierra): los demás no esperan por él, y las
                        // entregas *a* este cliente siguen por su cola.
                        drop(batch);
                        thread::sleep(wait);
                        batch = WriteBatch::begin();
                    }
                    match frame {
                        Ok(Frame::Line) => {
                            if session.handle(&chat, &line) == Flow::Close {
                                return;
                            }
                        }
                        Ok(Frame::TooLong) => {
                            if session.too_long(&chat) == Flow::Close {
                                return;
                            }
                        }
                        Err(error) if reader.get_mut().waiting() && is_timeout(&error) => {
                            return reader.get_mut().expired(&chat, &outbox, &peer);
                        }
                        Ok(Frame::Eof) | Err(_) => return,
                    }
                    // Seguir solo si otra línea completa ya está en el búfer:
                    // `read_frame` no se bloqueará.
                    if !reader.buffer().contains(&b'\n') {
                        // Las transferencias de la tanda esperan aquí un solo
                        // `fdatasync`, antes de volver a esperar al socket.
                        session.settle(&chat);
                        break;
                    }
                    frame = read_frame(&mut reader, &mut line, MAX_LINE_BYTES);
                }
                drop(batch);
            }
        }));
        if outcome.is_err() {
            chat.log(&format!(
                "internal error while serving {peer}; connection closed"
            ));
        }
        session.end(&chat);
        outbox.finish(GOODBYE_GRACE);
        // Primero el lugar, después el anuncio (si no, un cliente que se
        // conecta al ver el anuncio podía encontrar el servidor "lleno").
        // Si algo de arriba entrara en pánico fuera del `catch_unwind`, el
        // `Drop` de `registered` lo libera igual.
        drop(registered);
        chat.log(&format!("Connection closed: {peer}"));
    }
}

/// El socket de un cliente, leído con el plazo para iniciar sesión
/// (`--signin-timeout-secs`). Antes de **cada** `read` (también las que
/// hace `read_frame` a mitad de una línea), el tiempo de espera del socket
/// (`set_read_timeout`) es lo que queda del plazo, no el plazo entero: así
/// quien envía un byte cada tanto sin completar nunca una línea
/// (*slowloris*) tampoco se queda.
struct SigninDeadline<'a> {
    stream: &'a TcpStream,
    /// El plazo total y el instante en que vence; `None` si no hay plazo o
    /// ya inició sesión.
    deadline: Option<(Duration, Instant)>,
}

impl<'a> SigninDeadline<'a> {
    fn new(stream: &'a TcpStream, timeout: Option<Duration>) -> SigninDeadline<'a> {
        SigninDeadline {
            stream,
            deadline: timeout.map(|t| (t, Instant::now() + t)),
        }
    }

    fn waiting(&self) -> bool {
        self.deadline.is_some()
    }

    /// Quita el plazo (ya inició sesión).
    fn lift(&mut self) {
        if self.deadline.take().is_some() {
            // Si falla, el socket conserva un tiempo de espera y el cliente
            // se desconecta tras un rato quieto: no hay nada mejor que hacer.
            let _ = self.stream.set_read_timeout(None);
        }
    }

    /// Avisa al cliente por qué se lo desconecta, y a la consola.
    fn expired(&self, chat: &Chat, outbox: &Arc<Outbox>, peer: &str) {
        let secs = self.deadline.map_or(0, |(t, _)| t.as_secs());
        send(outbox, &Event::SigninTimeout(secs));
        chat.log(&format!("{peer} did not sign in within {secs} s; closed"));
    }
}

impl Read for SigninDeadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((_, deadline)) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            // `set_read_timeout` rechaza una duración cero.
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        // `Read` está implementado para `&TcpStream`: se lee por la
        // referencia compartida con la cola.
        (&*self.stream).read(buf)
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// La consola del servidor: la salida estándar, escrita por su propio hilo
/// (ver `console`). Si nadie la lee o se detiene (Ctrl-S, una tubería que
/// nadie vacía), las líneas de más se descartan y se cuentan, y el chat
/// sigue. Error: no se pudo crear el hilo escritor.
pub fn stdout_console() -> Result<Console, ServerError> {
    Ok(Box::new(Logger::stdout().map_err(ServerError::Thread)?))
}

/// Imprime `Listening on ADDR` directamente en la salida estándar, antes de
/// aceptar a nadie: es la primera línea, la que leen las pruebas y los
/// guiones para saber el puerto. Error: no se pudo escribir.
fn announce(addr: &str) -> Result<(), ServerError> {
    let mut out = io::stdout().lock();
    writeln!(out, "Listening on {addr}")
        .and_then(|()| out.flush())
        .map_err(|error| ServerError::Bind {
            addr: addr.to_string(),
            error,
        })
}

/// Arranca el servidor con `config`, imprime `Listening on HOST:PUERTO` como
/// primera línea y atiende para siempre. Errores: [`ServerError`].
pub fn run(config: &Config) -> Result<(), ServerError> {
    if config.echo {
        return crate::echo::run(&config.addr, stdout_console()?).map_err(|error| {
            ServerError::Bind {
                addr: config.addr.clone(),
                error,
            }
        });
    }
    let server = Server::bind(config, stdout_console()?)?;
    let addr = server.local_addr().map_err(|error| ServerError::Bind {
        addr: config.addr.clone(),
        error,
    })?;
    crate::shutdown::on_signal_shut_down(
        Arc::clone(&server.tcp.chat),
        Arc::clone(&server.tcp.connections),
    )
    .map_err(ServerError::Thread)?;
    announce(&addr.to_string())?;
    let torn = server.tcp.chat.ledger.torn_bytes();
    if torn > 0 {
        server.tcp.chat.log(&format!(
            "ignored the last {torn} bytes of {}: a journal line cut off \
             before its end (a crash while writing), never confirmed to anyone",
            config.data_dir.join(crate::storage::JOURNAL_FILE).display()
        ));
    }
    server.serve().map_err(|error| ServerError::Bind {
        addr: addr.to_string(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(parse_args(args(&[])), Ok(Some(Config::default())));
        let config = parse_args(args(&[
            "--addr",
            "[::1]:0",
            "--data-dir=/tmp/x",
            "--max-queue-bytes",
            "4096",
            "--hash-cost",
            "minimal",
            "--udp-idle-secs",
            "7",
            "--max-clients",
            "0",
            "--max-clients-per-ip=3",
            "--signin-timeout-secs=0",
            "--keepalive-secs",
            "0",
            "--max-lines-per-sec",
            "0",
            "--max-signin-failures=7",
            "--max-signin-failures-per-ip",
            "9",
            "--max-registrations-per-ip=11",
            "--echo",
        ]))
        .expect("válido")
        .expect("no es --help");
        assert_eq!(config.addr, "[::1]:0");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.max_queue_bytes, 4096);
        assert_eq!(config.hash_cost, HashCost::Minimal);
        assert_eq!(config.udp_idle, Duration::from_secs(7));
        assert!(config.echo);
        assert_eq!(config.max_clients, 0);
        assert_eq!(config.max_clients_per_ip, 3);
        assert_eq!(config.signin_timeout, None);
        assert_eq!(config.keepalive, None);
        assert_eq!(
            config.limits,
            Limits {
                lines_per_sec: 0,
                max_signin_failures: 7,
                max_signin_failures_per_ip: 9,
                max_registrations_per_ip: 11,
            }
        );
        assert_eq!(Config::default().limits, Limits::default());
        assert_eq!(Config::default().max_clients, DEFAULT_MAX_CLIENTS);
        assert_eq!(
            Config::default().signin_timeout,
            Some(DEFAULT_SIGNIN_TIMEOUT)
        );
        assert_eq!(parse_args(args(&["--addr", "x", "--help"])), Ok(None));
    }

    #[test]
    fn bad_flags_are_explained() {
        for bad in [
            &["--addr"][..],
            &["--port", "1"],
            &["--max-queue-bytes", "0"],
            &["--hash-cost", "cheap"],
            &["--udp-idle-secs", "0"],
            &["--max-clients", "-1"],
            &["--max-clients-per-ip", "x"],
            &["--signin-timeout-secs", "pronto"],
            &["--keepalive-secs", "-1"],
            &["--max-lines-per-sec", "5000000000"],
            &["--max-signin-failures", "-3"],
            &["--max-signin-failures-per-ip", "muchas"],
        ] {
            let error = parse_args(args(bad)).expect_err("debe fallar");
            assert!(error.contains(bad[0]), "{error}");
        }
    }
}
