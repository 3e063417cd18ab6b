//! El servidor: abre el socket TCP que escucha y el socket UDP en el mismo
//! puerto, acepta conexiones y levanta un hilo por cliente TCP (enunciado
//! 003, punto 6), que lee líneas y se las pasa a su `Session`; el lado UDP
//! corre en un solo hilo (`udp`).
//!
//! Este módulo es la parte delgada que toca la red: las reglas están en
//! `session`, `ledger` y `protocolo`, que se prueban sin sockets. Aquí se
//! abren los sockets y se aceptan conexiones; el hilo de cada cliente está
//! en `connection` y la salida de cada uno en `output`. Lo que el programa
//! completo agrega (la línea de comandos, los topes de conexiones, el
//! apagado, las colas rápidas) entra por [`Plugins`] y [`UdpSetup`]: este
//! módulo no lo conoce.

mod connection;

use crate::curso::ledger::{Ledger, MakeDurability, SyncEach};
use crate::curso::output::Channels;
use crate::curso::password::{Argon, HashCost, Hashing};
use crate::curso::protocolo::DEFAULT_ADDR;
use crate::curso::seams::{
    Guard, Observer, Open, Outputs, PlainStreams, Refusal, StreamSetup, Unobserved,
};
use crate::curso::session::{Chat, Console};
use crate::curso::storage::{DirLock, StorageError};
use crate::curso::udp::UdpServer;
use connection::Client;
pub use connection::{LineByLine, ReadLoop};
use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Directorio de datos por defecto.
pub const DEFAULT_DATA_DIR: &str = "./datos";

/// Lo que el servidor necesita para arrancar. El programa completo lo lee
/// de su línea de comandos (`servidor --help`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Dónde escuchar, TCP y UDP: `HOST:PUERTO` (puerto 0: uno libre).
    pub addr: String,
    /// El directorio de datos: el diario, la foto y el candado.
    pub data_dir: PathBuf,
    /// Cuánto cuesta el hash de una contraseña nueva.
    pub hash_cost: HashCost,
}

impl Default for Settings {
    /// `127.0.0.1:5500`, `./datos`, el costo de OWASP y 60 s.
    fn default() -> Settings {
        Settings {
            addr: DEFAULT_ADDR.to_string(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            hash_cost: HashCost::Owasp,
        }
    }
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

/// Arma el lado UDP sobre su socket ya abierto y el chat compartido. El
/// curso usa [`UdpServer::new`] con el socket tal cual; el programa completo pone delante el
/// laboratorio de pérdidas y comparte el techo de memoria de sus colas con
/// las de TCP. Error: no se pudo crear un hilo.
pub type UdpSetup = Box<dyn FnOnce(UdpSocket, Arc<Chat>) -> io::Result<UdpServer>>;

/// Todas las respuestas que recibe el servidor en sus puntos de enchufe
/// (ver [`crate::curso::seams`]). [`Plugins::default`] son
/// las del curso.
pub struct Plugins {
    /// Cómo se prepara cada socket aceptado.
    pub stream_setup: Box<dyn StreamSetup>,
    /// Quién cuenta lo que pasa.
    pub observer: Arc<dyn Observer>,
    /// Los límites contra el abuso.
    pub guard: Arc<dyn Guard>,
    /// La salida de cada cliente TCP.
    pub outputs: Arc<dyn Outputs>,
    /// Cómo lee el hilo de cada cliente TCP.
    pub read_loop: Arc<dyn ReadLoop>,
    /// Cómo llega al disco cada operación del libro.
    pub durability: MakeDurability,
    /// Quién calcula los hashes de las contraseñas, con el costo de
    /// `--hash-cost`.
    pub hashing: fn(HashCost) -> Box<dyn Hashing>,
}

impl Default for Plugins {
    fn default() -> Plugins {
        Plugins {
            stream_setup: Box::new(PlainStreams),
            observer: Arc::new(Unobserved),
            guard: Arc::new(Open),
            outputs: Arc::new(Channels::default()),
            read_loop: Arc::new(LineByLine),
            durability: Box::new(SyncEach::boxed),
            hashing: Argon::boxed,
        }
    }
}

/// Un servidor con sus sockets ya abiertos, listo para aceptar.
pub struct Server {
    tcp: Listener,
    udp: UdpServer,
}

/// Cuántos números prueba el puerto 0 hasta encontrar uno libre en TCP y
/// en UDP a la vez.
const PORT_ATTEMPTS: u32 = 20;

/// El socket TCP que escucha (preparado por `setup`) y el UDP, en `addr`
/// y con el mismo número de puerto. Con el puerto 0, el kernel elige el
/// número para TCP y el UDP toma el mismo; pero los puertos TCP y UDP son
/// espacios distintos, y ese número puede estar ocupado en UDP (por un
/// cliente cualquiera de la máquina): entonces se suelta el TCP y se
/// prueba otro, hasta [`PORT_ATTEMPTS`] veces. Con un puerto pedido, un
/// UDP ocupado es un error. Error: el de `bind` o de `setup`.
fn bind_both(addr: &str, setup: &dyn StreamSetup) -> io::Result<(TcpListener, UdpSocket)> {
    let any_port = addr.to_socket_addrs()?.all(|a| a.port() == 0);
    let mut attempt = 1;
    loop {
        let listener = TcpListener::bind(addr)?;
        setup.listening(&listener)?;
        let retry = any_port && attempt < PORT_ATTEMPTS;
        match UdpSocket::bind(listener.local_addr()?) {
            Ok(socket) => return Ok((listener, socket)),
            Err(e) if retry && e.kind() == io::ErrorKind::AddrInUse => attempt += 1,
            Err(e) => return Err(e),
        }
    }
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
    /// `settings` dice dónde y con qué datos ([`Settings`]);
    /// `console` recibe las líneas de consola; `plugins`, las respuestas a
    /// los puntos de enchufe ([`Plugins::default`]: las del curso); `udp`
    /// arma el lado UDP ([`UdpSetup`]). Errores: [`ServerError`].
    pub fn bind(
        settings: &Settings,
        console: Console,
        plugins: Plugins,
        udp: UdpSetup,
    ) -> Result<Server, ServerError> {
        let lock = DirLock::acquire(&settings.data_dir).map_err(ServerError::Storage)?;
        let bind_error = |error| ServerError::Bind {
            addr: settings.addr.clone(),
            error,
        };
        let (listener, socket) =
            bind_both(&settings.addr, plugins.stream_setup.as_ref()).map_err(bind_error)?;
        let observer = Arc::clone(&plugins.observer);
        let hasher = (plugins.hashing)(settings.hash_cost);
        let ledger = Ledger::open_locked(lock, hasher, observer, plugins.durability)
            .map_err(ServerError::Storage)?;
        let chat = Arc::new(Chat::new(ledger, plugins.guard, console, plugins.observer));
        let udp = udp(socket, Arc::clone(&chat)).map_err(ServerError::Thread)?;
        let tcp = Listener {
            listener,
            chat,
            outputs: plugins.outputs,
            read_loop: plugins.read_loop,
            stream_setup: plugins.stream_setup,
        };
        Ok(Server { tcp, udp })
    }

    /// La dirección real del socket (con el puerto elegido si se pidió el 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.listener.local_addr()
    }

    /// El estado compartido del chat (para quien lo apaga o lo anota).
    pub fn chat(&self) -> &Arc<Chat> {
        &self.tcp.chat
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

/// La parte TCP del servidor: el socket que escucha y lo que cada hilo de
/// cliente necesita.
struct Listener {
    listener: TcpListener,
    chat: Arc<Chat>,
    /// La salida de cada cliente (ver [`Outputs`]).
    outputs: Arc<dyn Outputs>,
    /// Cómo lee cada cliente (ver [`ReadLoop`]).
    read_loop: Arc<dyn ReadLoop>,
    /// Cómo se prepara cada socket aceptado (ver [`StreamSetup`]).
    stream_setup: Box<dyn StreamSetup>,
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

    /// Una conexión que no entra: sin hilo ni cola, una línea que dice por
    /// qué, el FIN, y se sigue con los demás.
    fn refuse(&self, stream: &TcpStream, addr: SocketAddr, refusal: Refusal) {
        let _ = (&*stream).write_all(refusal.notice.to_line().as_bytes());
        let _ = stream.shutdown(Shutdown::Write);
        let why = refusal.why;
        self.chat
            .log(&format!("Connection from {addr} refused: {why}"));
    }

    fn start_client(&self, stream: TcpStream, addr: SocketAddr) -> io::Result<()> {
        // Sin Nagle: cada línea sale de inmediato, sin esperar a juntar más.
        stream.set_nodelay(true)?;
        // Lo que el programa completo ajuste del socket (el curso, nada).
        self.stream_setup.prepare(&stream)?;
        let stream = Arc::new(stream);
        let output = self.outputs.open(Arc::clone(&stream))?;
        let place = match self.chat.guard.admit(addr, &output) {
            Ok(place) => place,
            Err(refusal) => {
                self.refuse(&stream, addr, refusal);
                return Ok(());
            }
        };
        let client = Client {
            chat: Arc::clone(&self.chat),
            stream,
            output,
            read_loop: Arc::clone(&self.read_loop),
            peer: format!("{addr} (TCP)"),
            ip: addr.ip(),
        };
        thread::Builder::new()
            .name(format!("client {addr}"))
            .spawn(move || client.serve(place))?;
        Ok(())
    }
}

/// Imprime `Listening on ADDR` directamente en la salida estándar, antes de
/// aceptar a nadie: es la primera línea, la que leen las pruebas y los
/// guiones para saber el puerto. Error: no se pudo escribir.
pub fn announce(addr: &str) -> Result<(), ServerError> {
    let mut out = io::stdout().lock();
    writeln!(out, "Listening on {addr}")
        .and_then(|()| out.flush())
        .map_err(|error| ServerError::Bind {
            addr: addr.to_string(),
            error,
        })
}

/// Lo que hace el servidor al arrancar, antes de aceptar a nadie: anota en
/// la consola la cola cortada del diario, si la hubo. Después, [`announce`]
/// y [`Server::serve`].
pub fn start(server: &Server, data_dir: &std::path::Path) {
    let chat = &server.tcp.chat;
    let torn = chat.ledger.torn_bytes();
    if torn > 0 {
        chat.log(&format!(
            "ignored the last {torn} bytes of {}: a journal line cut off \
             before its end (a crash while writing), never confirmed to anyone",
            data_dir.join(crate::curso::storage::JOURNAL_FILE).display()
        ));
    }
}
