//! Los puntos de enchufe del servidor: lo que el curso pregunta en ciertos
//! momentos y que el programa completo responde de otra manera.
//!
//! El curso escribe cada pregunta como un *trait* pequeño, con una
//! respuesta por omisión que es la del curso, la más simple que funciona.
//! El programa completo trae las otras respuestas (los límites, las
//! estadísticas, las colas rápidas...) y el binario las pasa al servidor
//! en un [`Plugins`](crate::curso::servidor::Plugins). Así el curso se lee
//! sin ellas, y ningún archivo del curso nombra al programa completo: el
//! enchufe es lo único que los une. No es dueño de ninguna respuesta que
//! no sea la del curso.

use crate::curso::protocolo::{Event, Problem};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Los sockets TCP del servidor: el que escucha, antes del primer
/// `accept`, y cada uno recién aceptado, antes de que su hilo empiece a
/// leer.
///
/// Es un enchufe porque lo que el curso necesita es nada: el socket de
/// `TcpListener::bind` ya escucha (con una cola de 128 conexiones), y uno
/// aceptado ya sirve. El programa completo ajusta opciones del kernel que
/// el curso no enseña, con llamadas que `std` no tiene (una cola de
/// `accept` más larga, *keepalive*, el búfer de envío).
pub trait StreamSetup: Send + Sync {
    /// Prepara el socket que escucha. Error: el de la llamada al sistema
    /// que falló; el servidor no arranca.
    fn listening(&self, listener: &TcpListener) -> io::Result<()>;
    /// Prepara `stream`. Error: el de la llamada al sistema que falló; la
    /// conexión no se atiende y el error va a la consola.
    fn prepare(&self, stream: &TcpStream) -> io::Result<()>;
}

/// La respuesta del curso: los sockets quedan como los dan `bind` y
/// `accept`.
pub struct PlainStreams;

impl StreamSetup for PlainStreams {
    fn listening(&self, _listener: &TcpListener) -> io::Result<()> {
        Ok(())
    }

    fn prepare(&self, _stream: &TcpStream) -> io::Result<()> {
        Ok(())
    }
}

/// El socket UDP del servidor, tal como lo usa el bucle de `recv_from`.
///
/// Es un enchufe porque al curso le basta el `UdpSocket` de `std`, que
/// confía en la dirección de origen de cada datagrama, como el enunciado.
/// El programa completo pone delante su laboratorio de pérdidas, una
/// prueba de dirección (la *cookie*: la dirección de un datagrama se
/// falsifica gratis), los límites de líneas por segundo y la entrega
/// confiable; el bucle solo le pasa cada datagrama y atiende las líneas
/// que devuelve.
pub trait Datagrams: Send + Sync {
    /// Espera un datagrama en `buffer` (a lo sumo el plazo de
    /// [`Datagrams::set_read_timeout`]) y llama a `each` con cada datagrama
    /// que sigue su camino y su origen: con el socket del curso,
    /// exactamente uno. Error: el de `recv_from` (también el plazo
    /// vencido, `WouldBlock` o `TimedOut`).
    fn receive(&self, buffer: &mut [u8], each: &mut dyn FnMut(&[u8], SocketAddr))
    -> io::Result<()>;
    /// Envía `bytes` a `to` en un datagrama y devuelve cuántos bytes salieron.
    /// Error: el de `send_to`.
    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize>;
    /// El plazo de cada espera de [`Datagrams::receive`] (`None`: sin
    /// plazo). Error: el de `setsockopt`.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Las líneas del chat que trae `datagram` (ya decodificado, sin su
    /// `\n`), quizá con un token delante. El curso devuelve el texto tal
    /// cual: confía en el origen que dice el datagrama, como el enunciado.
    /// El programa completo primero pide que ese origen pruebe que recibe
    /// lo que se le envía (la *cookie*) a quien quiere entrar o mudar su
    /// sesión a otra dirección.
    fn admit(&self, datagram: &Datagram<'_>) -> Vec<String> {
        vec![datagram.text.to_string()]
    }
    /// Responde `event` a `to`, fuera de una sesión, por el datagrama que
    /// acaba de llegar de ahí. El curso lo envía; el programa completo no
    /// le responde a un origen sin probar más del triple de lo que envió
    /// (le pide la prueba).
    fn answer(&self, to: SocketAddr, event: &Event) {
        self.send_line(to, event.to_line().trim_end_matches('\n'));
    }
    /// Envía `text` (una línea, sin `\n`) a `to` en su propio datagrama,
    /// terminado en `\n` (así `nc -u` muestra uno por línea). `false` si
    /// no puede salir todavía y debe esperar en la cola de quien la envía
    /// (el modo confiable del programa completo, con la ventana llena). El
    /// curso siempre la envía: si el kernel o la red la pierden, es UDP.
    fn send_line(&self, to: SocketAddr, text: &str) -> bool {
        let _ = self.send_to(format!("{text}\n").as_bytes(), to);
        true
    }
    /// La salida de una sesión UDP hacia `to`; `me` es este mismo socket,
    /// compartido. La del curso envía cada línea en el momento
    /// ([`DatagramOutput`]): `send_to` no espera a nadie.
    fn output(&self, me: &Arc<dyn Datagrams>, to: SocketAddr) -> Arc<dyn Output> {
        Arc::new(DatagramOutput::new(Arc::clone(me), to))
    }
}

/// Un datagrama recibido, ya como texto (ver [`Datagrams::admit`]).
pub struct Datagram<'a> {
    /// El texto, sin el `\n` final.
    pub text: &'a str,
    /// Quién lo envió (según el propio datagrama).
    pub from: SocketAddr,
    /// `true` si la cola de entradas está llena: un `:login` o un
    /// `:register` que llegue ahora se perdería.
    pub signins_full: bool,
}

/// La salida del curso hacia una dirección UDP: cada línea sale en el
/// momento, en su datagrama. No hay cola que se llene: `send_to` no espera
/// a quien no lee (lo que no cabe en su búfer, el kernel lo descarta).
pub struct DatagramOutput {
    socket: Arc<dyn Datagrams>,
    to: SocketAddr,
    closed: std::sync::atomic::AtomicBool,
}

impl DatagramOutput {
    /// La salida hacia `to` por `socket`.
    pub fn new(socket: Arc<dyn Datagrams>, to: SocketAddr) -> DatagramOutput {
        DatagramOutput {
            socket,
            to,
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Output for DatagramOutput {
    fn send(&self, line: &[u8]) {
        if self.is_closed() {
            return;
        }
        // Las líneas las escribe el servidor: son UTF-8.
        let text = String::from_utf8_lossy(line);
        for line in text.lines() {
            self.socket.send_line(self.to, line);
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    fn finish(&self, _grace: Duration) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// La salida de un cliente: por donde le llegan sus líneas, sin que nadie
/// espere por él.
///
/// Es un enchufe porque el curso la resuelve con lo más simple que
/// funciona (`output`: un canal acotado y un hilo escritor por cliente), y
/// el programa completo con colas sin hilo propio que aguantan 10.000
/// clientes.
pub trait Output: Send + Sync {
    /// Pone `line` (una o más líneas completas, cada una con su `\n`) en la
    /// salida y vuelve enseguida: quien llama puede estar atendiendo a otro
    /// cliente, y un cliente que no lee no debe frenar a nadie. Si la cola
    /// del cliente está llena, se lo desconecta (no hay aviso posible: su
    /// cola es justo lo que no avanza). A una salida cerrada no le pasa
    /// nada.
    fn send(&self, line: &[u8]);
    /// Bytes que esperan salir, para `:stats` (0 si no se llevan).
    fn pending_bytes(&self) -> usize {
        0
    }
    /// `true` si la conexión ya se cerró (por error, cola llena o
    /// despedida): la sala da por ido al usuario solo-UDP cuya salida se
    /// cerró.
    fn is_closed(&self) -> bool;
    /// La despedida: deja de aceptar líneas, deja salir lo que había
    /// durante a lo sumo `grace` y cierra la conexión.
    fn finish(&self, grace: Duration);
}

/// Quién le da su salida a cada cliente TCP que se conecta.
pub trait Outputs: Send + Sync {
    /// La salida de un cliente recién aceptado, que escribe en `stream`.
    /// Error: el de preparar el socket o crear lo que escribe; la conexión
    /// no se atiende y el error va a la consola.
    fn open(&self, stream: Arc<TcpStream>) -> io::Result<Arc<dyn Output>>;
}

/// Lo que pasa en el servidor, para quien quiera contarlo: cada método se
/// llama en el hilo donde ocurre, así que debe ser barato y no bloquear.
///
/// Es un enchufe porque el curso no cuenta nada: lo que cuenta el programa
/// completo son las cifras de `:stats`. Cada método tiene la respuesta del
/// curso escrita (no hacer nada), así que quien se enchufa escribe solo
/// los que le importan.
pub trait Observer: Send + Sync {
    /// Llegó una línea de un cliente, por TCP o por UDP.
    fn line_in(&self) {}
    /// Una línea salió hacia `outputs` clientes (una respuesta: 1; un
    /// aviso a la sala: los que estaban).
    fn delivered(&self, _outputs: usize) {}
    /// Un hilo esperó `waited` para tomar el candado del libro de cuentas.
    fn ledger_waited(&self, _waited: Duration) {}
    /// Las entradas de la ayuda (`:help`) de los comandos que este
    /// observador responde (ver [`Observer::report`]), cada una terminada
    /// en `, `. El curso no tiene ninguno: `""`.
    fn help(&self) -> &'static str {
        ""
    }
    /// Las líneas de `:stats` (cada una, el texto de un [`Event::Notice`]) a la hora `now`;
    /// `room` cuenta la sala, y cuesta un candado por cliente, así que se
    /// llama solo si hace falta. `None`: no hay estadísticas, y `:stats` es
    /// un comando desconocido.
    fn report(&self, _now: Instant, _room: &dyn Fn() -> Census) -> Option<Vec<String>> {
        None
    }
}

/// Quiénes hay en la sala, para `:stats` (lo cuenta `Room::census`).
#[derive(Default)]
pub struct Census {
    /// Unidos con conexión TCP.
    pub tcp: u64,
    /// Unidos solo por UDP.
    pub udp: u64,
    /// Las colas de salida de todas las sesiones.
    pub outputs: Vec<Arc<dyn Output>>,
}

/// La respuesta del curso: no se cuenta nada.
pub struct Unobserved;

impl Observer for Unobserved {}

/// Un intento de entrar, para [`Guard`].
pub struct Attempt<'a> {
    /// De dónde vino.
    pub ip: IpAddr,
    /// La dirección está probada: una conexión TCP (su saludo de tres vías
    /// lo prueba) o un datagrama que devolvió su cookie. La de un datagrama
    /// cualquiera la escribe el emisor, y no debe contar contra nadie.
    pub verified: bool,
    /// `:register` (si no, `:login`).
    pub register: bool,
    /// El nombre, como se escribió.
    pub name: &'a str,
}

/// Por qué no entra una conexión TCP (ver [`Guard::admit`]): el aviso que
/// recibe antes del cierre y la razón para la consola.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub notice: Event,
    pub why: &'static str,
}

/// Quién puede abrir una conexión con el servidor de eco.
///
/// Es un enchufe porque el eco del curso admite a todos; el programa
/// completo le pone los topes del chat (`--max-clients`,
/// `--max-clients-per-ip`): un hilo por conexión no es gratis.
pub trait Admission: Send + Sync {
    /// Una conexión desde `peer`: su lugar (se libera al soltarlo) o por qué
    /// no, para la consola.
    fn admit(&self, peer: SocketAddr) -> Result<Box<dyn Place>, &'static str>;
}

/// La respuesta del curso: todos entran.
pub struct Everyone;

impl Admission for Everyone {
    fn admit(&self, _peer: SocketAddr) -> Result<Box<dyn Place>, &'static str> {
        Ok(Box::new(()))
    }
}

/// El lugar de una conexión admitida (ver [`Guard::admit`] y
/// [`Admission::admit`]): el hilo del cliente lo guarda mientras atiende,
/// y al soltarlo (`Drop`, también si el hilo entró en pánico) el lugar
/// queda libre. Es también donde el programa completo lleva los límites
/// de esa conexión; el curso no limita nada.
pub trait Place: Send {
    /// La conexión inició sesión como `name`.
    fn signed_in(&mut self, _name: &str) {}
    /// Llega una línea (que no es `:q`: salir nunca espera) a la hora
    /// `now`: cuánto esperar antes de atenderla, y qué decir la primera
    /// vez (ver [`Pace`]). `None`: atenderla ya.
    fn before_line(&mut self, _now: Instant) -> Option<Pace> {
        None
    }
    /// Un intento de entrar falló con `problem`: `Some` cierra la
    /// conexión, con ese aviso y esa línea para la consola.
    fn failed_sign_in(&mut self, _problem: &Problem) -> Option<(Event, String)> {
        None
    }
}

/// Esperar antes de atender una línea (ver [`Place::before_line`]): quien
/// envía de más por TCP va más lento, sin perder nada.
pub struct Pace {
    /// Cuánto esperar sin leer nada más.
    pub wait: Duration,
    /// El aviso al cliente y la línea de la consola, solo la primera vez de
    /// cada ráfaga.
    pub first: Option<(Event, String)>,
}

/// El lugar del curso: no ocupa nada.
impl Place for () {}

/// Los límites contra el abuso: quién puede entrar y a qué ritmo se
/// atiende a cada uno.
///
/// Es un enchufe porque el curso no limita nada: cualquiera entra, prueba
/// contraseñas y escribe tan rápido como quiera. El programa completo
/// frena al que envía de más, bloquea al que adivina contraseñas y a la
/// dirección que crea cuentas en masa. Cada método
/// tiene escrita la respuesta del curso: dejar pasar.
pub trait Guard: Send + Sync {
    /// Una conexión TCP recién aceptada desde `peer`, con su salida: entra
    /// (y el valor devuelto es su lugar) o no, y por qué. El curso admite a
    /// todos, sin anotar nada.
    fn admit(
        &self,
        _peer: SocketAddr,
        _output: &Arc<dyn Output>,
    ) -> Result<Box<dyn Place>, Refusal> {
        Ok(Box::new(()))
    }
    /// El texto de un mensaje como lo verán los demás: el curso quita los
    /// controles y junta los espacios (`protocolo::render_text`); el
    /// programa completo quita además lo que no se ve.
    fn render(&self, text: &str) -> String {
        crate::curso::protocolo::render_text(text)
    }
    /// La primera línea para una conexión nueva: cómo iniciar sesión (el
    /// programa completo agrega en cuántos segundos).
    fn prompt(&self) -> Event {
        Event::Prompt
    }
    /// `name` se fue: se olvida su ritmo; devuelve una línea para la
    /// consola si hay algo que anotar (datagramas suyos descartados).
    fn user_left(&self, _name: &str, _now: Instant) -> Option<String> {
        None
    }
    /// Antes de calcular ningún hash: `Err` rechaza el intento con ese
    /// problema; `Ok` trae líneas para la consola (un bloqueo que empieza).
    fn before_sign_in(
        &self,
        _attempt: &Attempt<'_>,
        _now: Instant,
    ) -> Result<Vec<String>, Problem> {
        Ok(Vec::new())
    }
    /// Después, con lo que pasó: entró, o el problema que se le respondió
    /// (`BadCredentials`: el nombre o la contraseña estaban mal). Devuelve
    /// líneas para la consola (un bloqueo que empieza).
    fn after_sign_in(
        &self,
        _attempt: &Attempt<'_>,
        _outcome: Result<(), &Problem>,
        _now: Instant,
    ) -> Vec<String> {
        Vec::new()
    }
}

/// La respuesta del curso: todos pasan.
pub struct Open;

impl Guard for Open {}
