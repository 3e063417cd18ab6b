//! El lado UDP del chat (enunciados 000 y 001): un solo hilo atiende todos
//! los datagramas que llegan al `UdpSocket`, en la misma sala, con las mismas
//! cuentas y el mismo banco que TCP.
//!
//! Por qué basta un hilo: con TCP, cada cliente tiene su propio socket
//! conectado y un `read` bloquea esperando a *ese* cliente, así que hace
//! falta un hilo por cliente. Con UDP hay un solo socket para todos: cada
//! `recv_from` devuelve el próximo datagrama de *cualquier* cliente junto con
//! su dirección, y responder es un `send_to` que no espera a nadie. Lo único
//! lento, el hash de una contraseña (decenas de milisegundos), no corre en
//! este hilo: va a un hilo de entradas ([`SIGNIN_QUEUE`]), y los demás
//! datagramas no esperan.
//!
//! UDP no tiene conexión, así que la sesión se identifica con un token que
//! cada datagrama lleva delante (`<TOKEN> <línea>`), y una sesión solo-UDP
//! termina con `:q` o por inactividad. Un datagrama perdido se pierde: es
//! UDP. El curso confía en la dirección de origen, como el enunciado; lo
//! que el programa completo pone delante (una prueba de dirección, límites
//! de líneas, entrega confiable) entra por el punto de enchufe
//! [`Datagrams`], que le devuelve a este bucle las líneas que debe
//! atender. Este módulo no decide reglas del chat:
//! llama a las acciones de [`Chat`].

use crate::curso::protocolo::{self, Command, Event, MAX_LINE_BYTES, Problem};
use crate::curso::room::{Presence, UdpEndpoint, Via};
use crate::curso::seams::{Datagram, Datagrams, Output};
use crate::curso::session::{
    Anonymous, Chat, Credentials, Replies, Speaker, Stage, before_sign_in,
};
use std::io;
use std::net::SocketAddr;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

/// Inactividad por defecto tras la que se cierra una sesión solo-UDP.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);

/// Tamaño del búfer de recepción: el máximo de un datagrama UDP, para que uno
/// más largo que 4096 bytes se vea entero (y se rechace) en vez de truncarse.
const RECV_BUFFER: usize = 65_536;

/// Cada cuánto, como mucho, se revisa la inactividad.
const SWEEP_EVERY: Duration = Duration::from_millis(200);

/// El servidor UDP: su socket, el estado compartido y la configuración.
pub struct UdpServer {
    endpoints: Endpoints,
    chat: Arc<Chat>,
    idle: Duration,
    /// Hacia el hilo de entradas.
    signins: Signins,
}

impl UdpServer {
    /// El bucle del hilo UDP: recibe, atiende y revisa la inactividad. No
    /// termina salvo un error irrecuperable del socket.
    pub fn serve(&self) -> io::Result<()> {
        let socket = &self.endpoints.socket;
        // Despertar de vez en cuando aunque nadie envíe nada, para revisar
        // la inactividad.
        let sweep = SWEEP_EVERY.min(self.idle).max(Duration::from_millis(10));
        socket.set_read_timeout(Some(sweep))?;
        let mut buffer = vec![0u8; RECV_BUFFER];
        let mut last_sweep = Instant::now();
        loop {
            match socket.receive(&mut buffer, &mut |bytes, from| self.datagram(bytes, from)) {
                Err(e) if !is_harmless(&e) => return Err(e),
                _ => {}
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                self.expire();
            }
        }
    }

    /// Prepara el servidor sobre un socket ya abierto (`bind`; el curso lo
    /// usa tal cual, el programa completo pone delante su laboratorio, la
    /// cookie y la entrega confiable: ver [`Datagrams`]) y arranca el hilo
    /// de entradas, que termina cuando se suelta el servidor. `idle` es la
    /// inactividad tras la que se cierra una sesión solo-UDP
    /// ([`DEFAULT_IDLE`]). Error: no se pudo crear el hilo.
    pub fn new(
        socket: Arc<dyn Datagrams>,
        chat: Arc<Chat>,
        idle: Duration,
    ) -> io::Result<UdpServer> {
        let (sender, jobs) = sync_channel(SIGNIN_QUEUE);
        let endpoints = Endpoints { socket };
        let waiting = Arc::new(AtomicUsize::new(0));
        let (for_chat, for_endpoints, for_waiting) =
            (Arc::clone(&chat), endpoints.clone(), Arc::clone(&waiting));
        thread::Builder::new()
            .name("udp sign-in".into())
            .spawn(move || sign_in_loop(&for_chat, &for_endpoints, jobs, &for_waiting))?;
        let signins = Signins { sender, waiting };
        Ok(UdpServer {
            endpoints,
            chat,
            idle,
            signins,
        })
    }

    /// Responde `event` directamente a `to`, fuera de una sesión, por el
    /// datagrama que acaba de llegar de ahí (ver [`Datagrams::answer`]).
    fn answer(&self, to: SocketAddr, event: &Event) {
        self.endpoints.socket.answer(to, event);
    }

    /// Atiende un datagrama: una línea, quizá con un token delante
    /// (`<TOKEN> <línea>`). El socket dice qué líneas trae (en el curso: el
    /// texto tal cual).
    fn datagram(&self, bytes: &[u8], from: SocketAddr) {
        self.chat.observer.line_in();
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.contains(&b'\n') {
            let error = Event::Error(Problem::OneLinePerDatagram);
            return self.answer(from, &error);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return self.answer(from, &Event::Error(Problem::InvalidUtf8));
        };
        let signins_full = self.signins.waiting() >= SIGNIN_QUEUE;
        let datagram = Datagram {
            text,
            from,
            signins_full,
        };
        for line in self.endpoints.socket.admit(&datagram) {
            self.line(&line, from);
        }
    }

    /// Una línea, quizá con su token delante.
    fn line(&self, line: &str, from: SocketAddr) {
        let (token, line) = match protocolo::split_token(line) {
            Some((token, line)) => (Some(token), line),
            None => (None, line),
        };
        // El límite es el de la línea, sin contar el token.
        if line.len() > MAX_LINE_BYTES {
            return self.answer(from, &Event::Error(Problem::LineTooLong));
        }
        match token {
            Some(token) => self.with_token(token, line, from),
            None => self.without_token(line, from),
        }
    }

    /// Un datagrama sin token: solo sirve para entrar (o pedir ayuda). La
    /// entrada va al hilo de entradas, que calcula el hash sin frenar a
    /// este.
    fn without_token(&self, line: &str, from: SocketAddr) {
        let credentials = match before_sign_in(protocolo::parse_command(line), Via::Udp) {
            Anonymous::Ignore => return,
            // Desde la dirección de una sesión: olvidó el token (en `nc -u`
            // hay que escribirlo).
            Anonymous::Answer(Event::Error(Problem::BadToken))
                if self.chat.room.holds_udp(from) =>
            {
                return self.answer(from, &Event::Error(Problem::TokenFirst));
            }
            Anonymous::Answer(event) => return self.answer(from, &event),
            Anonymous::SignIn(credentials) => credentials,
        };
        // Si el hilo de entradas tiene la cola llena, esta se pierde, como
        // un datagrama: el cliente vuelve a intentar.
        self.signins.offer(SigninJob { credentials, from });
    }

    /// Un datagrama `<TOKEN> <línea>`: se atiende como si la línea hubiera
    /// llegado por la conexión de ese usuario, y la respuesta vuelve a la
    /// dirección de este datagrama: desde una dirección nueva, la sesión se
    /// muda a ella (el token prueba quién es).
    fn with_token(&self, token: &str, line: &str, from: SocketAddr) {
        let endpoint = |addr| self.endpoints.endpoint(addr);
        let Some(user) = self.chat.room.by_token(token, from, endpoint) else {
            return self.answer(from, &Event::Error(Problem::BadToken));
        };
        if user.new_address {
            self.chat
                .log(&format!("{} uses UDP from {from} (UDP)", user.name));
        }
        let parsed = protocolo::parse_command(line);
        if parsed == Ok(Some(Command::Quit)) {
            return self.quit(token, &user.reply, user.tcp.as_ref());
        }
        let mut reply = Replies::new(user.reply);
        let me = Speaker {
            name: &user.name,
            via: Via::Udp,
        };
        let stage = Stage::of(user.joined);
        self.chat.signed_line(me, stage, line, parsed, &mut reply);
        // Un datagrama es una tanda de una línea: su `:t` espera aquí.
        reply.settle(&self.chat);
    }

    /// `<TOKEN> :q`: cierra la sesión y revoca el token. La despedida vuelve
    /// por UDP, como toda respuesta; si el usuario también tenía conexión
    /// TCP, se cierra sin repetirla: `:q` saca al usuario, no a un transporte.
    fn quit(&self, token: &str, reply: &Arc<dyn Output>, tcp: Option<&Arc<dyn Output>>) {
        self.chat.leave(token);
        self.chat.send(reply, &Event::Goodbye);
        if let Some(tcp) = tcp {
            tcp.finish(Duration::ZERO);
        }
    }

    /// Cierra las sesiones solo-UDP que pasaron `idle` sin un datagrama.
    fn expire(&self) {
        for expired in self.chat.room.expire_udp(self.idle) {
            self.chat.send(&expired.output, &Event::Goodbye);
            self.chat.departed(expired.name, expired.others);
        }
    }
}

/// La respuesta del curso al punto de enchufe: el socket tal cual, y
/// cada `recv_from` es un datagrama.
impl Datagrams for UdpSocket {
    fn receive(
        &self,
        buffer: &mut [u8],
        each: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<()> {
        let (n, from) = self.recv_from(buffer)?;
        each(&buffer[..n], from);
        Ok(())
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        UdpSocket::send_to(self, bytes, to)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UdpSocket::set_read_timeout(self, timeout)
    }
}

/// Entradas por UDP que pueden esperar su hash a la vez; las de más se
/// descartan, como un datagrama perdido.
pub const SIGNIN_QUEUE: usize = 64;

/// El socket y cómo crear la salida hacia una dirección UDP: lo
/// comparten el hilo UDP y el de las entradas.
#[derive(Clone)]
struct Endpoints {
    socket: Arc<dyn Datagrams>,
}

impl Endpoints {
    fn endpoint(&self, addr: SocketAddr) -> UdpEndpoint {
        UdpEndpoint {
            addr,
            output: self.socket.output(&self.socket, addr),
        }
    }
}

/// `true` si `recv_from` falló sin que el socket esté roto: venció el
/// plazo (para revisar la inactividad), una señal lo interrumpió, o
/// llegó el ICMP "puerto inalcanzable" de un envío anterior (Linux lo
/// entrega en la siguiente llamada al socket, RFC 1122 §4.1.3.3).
fn is_harmless(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}

/// La cola hacia el hilo de entradas, con la cuenta de cuántas esperan:
/// para no acusar una entrada del modo confiable que no cabría.
struct Signins {
    sender: SyncSender<SigninJob>,
    waiting: Arc<AtomicUsize>,
}

impl Signins {
    /// Entradas en la cola, sin atender todavía.
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Pone `job` en la cola si hay lugar; si no, se pierde.
    fn offer(&self, job: SigninJob) {
        // Se cuenta antes de enviar: el hilo de entradas descuenta al
        // recibir, y la cuenta nunca queda por debajo de cero.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if self.sender.try_send(job).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Un `:login` o `:register` que llegó por UDP, para el hilo de entradas.
struct SigninJob {
    credentials: Credentials,
    from: SocketAddr,
}

/// El hilo de entradas por UDP: cada `:login`/`:register` se atiende aquí,
/// con su hash, y la respuesta sale completa (en el programa completo, solo
/// llegan aquí los de una dirección que ya probó que recibe). `waiting`: las entradas en la cola, que este
/// hilo descuenta al tomar cada una. Termina cuando se suelta el
/// [`UdpServer`].
///
/// Una entrada repetida (el cliente no vio la respuesta, que se perdió)
/// recibe la misma respuesta: un `:login` repetido lo resuelve la sala
/// ([`crate::curso::room::Claim::Again`]); un `:register` repetido encontraría la
/// cuenta ya creada, así que, si ese nombre tiene abierta su sesión UDP
/// justo en esa dirección, se atiende como el `:login` que es.
fn sign_in_loop(
    chat: &Chat,
    endpoints: &Endpoints,
    jobs: Receiver<SigninJob>,
    waiting: &AtomicUsize,
) {
    for SigninJob { credentials, from } in jobs {
        waiting.fetch_sub(1, Ordering::Relaxed);
        let mut result = sign_in(chat, endpoints, &credentials, from, true);
        if let Err(Problem::NameTaken(name)) = &result
            && chat.room.udp_session_at(name, from)
        {
            let login = Credentials {
                register: false,
                ..credentials
            };
            // Sin contar el fallo: quien se equivoca aquí escribió otra
            // contraseña en un `:register`, y la respuesta es la de
            // siempre, "name taken".
            result = sign_in(chat, endpoints, &login, from, false).map_err(|e| match e {
                Problem::BadCredentials => Problem::NameTaken(login.name),
                other => other,
            });
        }
        // La respuesta sale entera, sin cota: ver arriba.
        if let Err(problem) = result {
            let line = Event::Error(problem).to_line();
            endpoints
                .socket
                .send_line(from, line.trim_end_matches('\n'));
        }
    }
}

/// Una entrada por UDP: si entra, la bienvenida sale ya por la cola de su
/// dirección. `counted`: sus fallos cuentan para los bloqueos (ver
/// [`Chat::sign_in`]). Error: el problema, para responderlo.
fn sign_in(
    chat: &Chat,
    endpoints: &Endpoints,
    credentials: &Credentials,
    from: SocketAddr,
    counted: bool,
) -> Result<(), Problem> {
    let mut reply = None;
    let presence = || {
        let endpoint = endpoints.endpoint(from);
        reply = Some(Arc::clone(&endpoint.output));
        Presence::Udp(endpoint)
    };
    let peer = format!("{from} (UDP)");
    let signed = chat.sign_in(credentials, presence, &peer, from.ip(), counted)?;
    // Entrar siempre pasa por `presence`, que dejó la cola en `reply`. Una
    // entrada repetida tiene ya su cola (la de la sesión): la nueva no se
    // usa, y la respuesta sale por esta, hacia la misma dirección.
    if let Some(reply) = reply {
        let token = Event::Token(signed.token.clone());
        chat.welcome(&signed, &mut Replies::new(reply), token);
    }
    Ok(())
}
