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
//! termina con `:q` o por inactividad. Tampoco tiene handshake: la
//! dirección de origen se falsifica gratis. El curso confía en ella, como
//! el enunciado. El socket del programa completo (el punto de enchufe
//! [`Datagrams`]) no: pide una prueba, una *cookie* que el cliente devuelve
//! delante de su datagrama (como QUIC, RFC 9000 §8), antes de hacer trabajo
//! por una dirección, de mudar una sesión a ella o de responderle más del
//! triple de lo que envió. Este módulo solo pregunta si el origen está
//! probado (`proven`) y, si no lo está, pide la prueba.
//!
//! Un datagrama perdido se pierde, que es lo que UDP es, salvo para quien
//! pide el modo confiable (`cliente --udp --reliable`, ver `reliable` y
//! `peers`): sus datagramas llevan `:seq <n>` o `:ack <n>` detrás de la
//! cookie y el token, y este hilo, además de atenderlos, acusa, ordena y
//! retransmite. Los dos tipos de usuario UDP comparten la sala. Este módulo
//! no decide reglas del chat: llama a las acciones de [`Chat`].

use crate::curso::protocolo::{self, Command, Event, MAX_LINE_BYTES, Problem};
use crate::curso::room::{Presence, TokenCheck, UdpEndpoint, Via};
use crate::curso::seams::{Datagrams, Output, Pacer, Proof, Reliable, Verdict};
use crate::curso::session::{
    Anonymous, Chat, Credentials, Replies, Speaker, Stage, before_sign_in,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
    /// El otro extremo, hasta que `serve` arranca el hilo.
    signin_jobs: RefCell<Option<Receiver<SigninJob>>>,
    /// El balde de líneas de cada dirección que envía sin token (solo el
    /// hilo UDP lo toca: no hace falta `Mutex`).
    anonymous: RefCell<HashMap<SocketAddr, Box<dyn Pacer>>>,
}

impl UdpServer {
    /// El bucle del hilo UDP: arranca el hilo de entradas, recibe, atiende
    /// y revisa la inactividad. No termina salvo un error irrecuperable del
    /// socket (o si no se puede crear el hilo de entradas).
    pub fn serve(&self) -> io::Result<()> {
        if let Some(jobs) = self.signin_jobs.borrow_mut().take() {
            let (chat, endpoints) = (Arc::clone(&self.chat), self.endpoints.clone());
            let waiting = Arc::clone(&self.signins.waiting);
            thread::Builder::new()
                .name("udp sign-in".into())
                .spawn(move || sign_in_loop(&chat, &endpoints, jobs, &waiting))?;
        }
        let socket = &self.endpoints.socket;
        // Despertar de vez en cuando aunque nadie envíe nada, para revisar
        // la inactividad y, si hay usuarios en modo confiable, sus
        // temporizadores de retransmisión (más seguido).
        let sweep = SWEEP_EVERY.min(self.idle).max(Duration::from_millis(10));
        let mut timeout = sweep;
        socket.set_read_timeout(Some(timeout))?;
        let mut buffer = vec![0u8; RECV_BUFFER];
        let mut last_sweep = Instant::now();
        let mut last_tick = Instant::now();
        loop {
            // Con temporizadores (el modo confiable del programa completo),
            // se despierta más seguido.
            let ticks = socket.tick_every();
            let wanted = ticks.map_or(sweep, |every| every.min(sweep));
            if wanted != timeout {
                timeout = wanted;
                socket.set_read_timeout(Some(timeout))?;
            }
            match socket.receive(&mut buffer, &mut |bytes, from| self.datagram(bytes, from)) {
                Err(e) if !is_harmless(&e) => return Err(e),
                _ => {}
            }
            if let Some(every) = ticks
                && last_tick.elapsed() >= every
            {
                last_tick = Instant::now();
                for line in socket.tick(last_tick, self.idle) {
                    self.chat.log(&line);
                }
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                self.expire();
            }
        }
    }

    /// El lado UDP del curso sobre `socket` ya abierto: el socket tal cual
    /// y la inactividad por omisión. Error: ninguno todavía (el hilo de
    /// entradas se crea en [`UdpServer::serve`]); devuelve `Result` para
    /// caber en `servidor::UdpSetup`.
    pub fn plain(socket: UdpSocket, chat: Arc<Chat>) -> io::Result<UdpServer> {
        Ok(UdpServer::new(Arc::new(socket), chat, DEFAULT_IDLE))
    }

    /// Prepara el servidor sobre un socket ya abierto (`bind`; el programa
    /// completo pone delante su laboratorio, la cookie y la entrega
    /// confiable: ver [`Datagrams`]). `idle` es la inactividad tras la que
    /// se cierra una sesión solo-UDP.
    pub fn new(socket: Arc<dyn Datagrams>, chat: Arc<Chat>, idle: Duration) -> UdpServer {
        let (signins, jobs) = sync_channel(SIGNIN_QUEUE);
        UdpServer {
            endpoints: Endpoints { socket },
            chat,
            idle,
            signins: Signins {
                sender: signins,
                waiting: Arc::new(AtomicUsize::new(0)),
            },
            signin_jobs: RefCell::new(Some(jobs)),
            anonymous: RefCell::new(HashMap::new()),
        }
    }

    /// El mismo servidor, con otra inactividad tras la que se cierra una
    /// sesión solo-UDP.
    pub fn with_idle(self, idle: Duration) -> UdpServer {
        UdpServer { idle, ..self }
    }

    /// Responde `event` directamente a `to` (sin sesión). A una dirección
    /// sin probar (`proven` es `false`) solo si el socket lo permite para
    /// un datagrama de `size` bytes ([`Datagrams::may_answer`]); si no, le
    /// pide la prueba. Así nadie usa al servidor para multiplicar su
    /// tráfico hacia otro.
    fn answer(&self, to: SocketAddr, event: &Event, size: usize, proven: bool) {
        if proven
            || self
                .endpoints
                .socket
                .may_answer(event.to_line().len(), size)
        {
            self.endpoints.answer(to, event);
        } else {
            self.challenge(to, size);
        }
    }

    /// Pide a `to` que pruebe su dirección (ver [`Datagrams::challenge`]).
    fn challenge(&self, to: SocketAddr, size: usize) {
        self.endpoints.socket.challenge(to, size);
    }

    /// Atiende un datagrama: una línea, quizá con una prueba de su origen
    /// y un token delante (`[<COOKIE>] [<TOKEN>] <línea>`).
    fn datagram(&self, bytes: &[u8], from: SocketAddr) {
        self.chat.observer.line_in();
        let size = bytes.len();
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.contains(&b'\n') {
            return self.answer(
                from,
                &Event::Error(Problem::OneLinePerDatagram),
                size,
                false,
            );
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return self.answer(from, &Event::Error(Problem::InvalidUtf8), size, false);
        };
        let (proven, text) = match self.endpoints.socket.proof(text, from) {
            Proof::Proven(rest) => (true, rest),
            Proof::Unproven(text) => (false, text),
            // Vencida, o de otra dirección: otra, para volver a probar.
            Proof::Invalid => return self.challenge(from, size),
        };
        let (token, line) = match protocolo::split_token(text) {
            Some((token, line)) => (Some(token), line),
            None => (None, text),
        };
        // ¿Un marco de la entrega confiable (solo en el programa completo)?
        // Cada uno trae la prueba de su sesión: la del origen, o el token de
        // una sesión abierta desde esa misma dirección.
        let bound = || proven || token.is_some_and(|token| self.chat.room.token_at(token, from));
        let mut admits = |payload: &str, in_order| self.admits(token, payload, from, in_order);
        match self
            .endpoints
            .socket
            .reliable(line, from, &bound, &mut admits)
        {
            Some(Reliable::Lines(lines)) => {
                for line in lines {
                    self.line(token, &line, from, Admitted::Yes, size);
                }
            }
            Some(Reliable::Unbound) => self.challenge(from, size),
            None => self.line(token, line, from, Admitted::No { proven }, size),
        }
    }

    /// `true` si una línea nueva del modo confiable (aún sin acusar) se
    /// puede tomar ahora: pasa el límite de líneas de su usuario (con
    /// token) o de su dirección (sin token), y, si es una entrada, llega en
    /// orden (se atiende ya, no queda guardada) y hay lugar en la cola de
    /// entradas. Cuenta la línea en el límite, como si ya se atendiera: la
    /// que se toma se atiende sin volver a contarla ([`Admitted::Yes`]).
    /// Una línea que solo recibirá un error (demasiado larga, un token
    /// desconocido) se toma.
    fn admits(&self, token: Option<&str>, line: &str, from: SocketAddr, in_order: bool) -> bool {
        if line.len() > MAX_LINE_BYTES {
            return true;
        }
        let now = Instant::now();
        let parsed = protocolo::parse_command(line);
        let verdict = match token {
            Some(token) => {
                let Some(name) = self.chat.room.name_of(token) else {
                    return true;
                };
                if parsed == Ok(Some(Command::Quit)) {
                    return true;
                }
                self.chat.guard.datagram_verdict(&name, now)
            }
            None => {
                let signs_in = matches!(before_sign_in(parsed, Via::Udp), Anonymous::SignIn(_));
                if signs_in && (!in_order || self.signins.waiting() >= SIGNIN_QUEUE) {
                    return false;
                }
                self.anonymous_verdict(from, now)
            }
        };
        if let Verdict::Drop { .. } = verdict {
            self.chat.observer.datagram_dropped();
            return false;
        }
        true
    }

    /// Cuenta una línea sin token de `from` en el límite de su dirección.
    fn anonymous_verdict(&self, from: SocketAddr, now: Instant) -> Verdict {
        let mut anonymous = self.anonymous.borrow_mut();
        let pacer = match anonymous.entry(from) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => match self.chat.guard.anonymous_pacer(now) {
                Some(pacer) => new.insert(pacer),
                None => return Verdict::Pass,
            },
        };
        pacer.check(now)
    }

    /// Una línea ya sin cookie ni token (ni marco del modo confiable).
    /// `admitted`: la de un par confiable ya pasó el límite de líneas al
    /// acusarla ([`UdpServer::admits`]); la de un datagrama simple, no
    /// (es `proven` o no, según su cookie).
    fn line(
        &self,
        token: Option<&str>,
        line: &str,
        from: SocketAddr,
        admitted: Admitted,
        size: usize,
    ) {
        let proven = admitted.proven();
        // El límite es el de la línea, sin contar lo que la precede.
        if line.len() > MAX_LINE_BYTES {
            return self.answer(from, &Event::Error(Problem::LineTooLong), size, proven);
        }
        match token {
            Some(token) => self.with_token(token, line, from, admitted, size),
            None => self.without_token(line, from, admitted, size),
        }
    }

    /// Un datagrama sin token: solo sirve para entrar (o pedir ayuda). Cada
    /// dirección tiene su propio límite de líneas por segundo; lo que pasa
    /// del límite se descarta (no hay sesión que cerrar). Desde un origen
    /// sin probar, la única respuesta a una entrada es el pedido de la
    /// prueba; si no, la entrada va al hilo de entradas, que calcula el
    /// hash sin frenar a este.
    fn without_token(&self, line: &str, from: SocketAddr, admitted: Admitted, size: usize) {
        let proven = admitted.proven();
        if let (Admitted::No { .. }, Some(per_sec)) = (admitted, self.chat.guard.lines_per_sec()) {
            match self.anonymous_verdict(from, Instant::now()) {
                Verdict::Pass | Verdict::Delay { .. } => {}
                Verdict::Drop { warn: true } => {
                    self.chat.observer.datagram_dropped();
                    let notice = Event::Error(Problem::TooFast(per_sec));
                    return self.answer(from, &notice, size, proven);
                }
                Verdict::Drop { warn: false } => {
                    return self.chat.observer.datagram_dropped();
                }
            }
        }
        let credentials = match before_sign_in(protocolo::parse_command(line), Via::Udp) {
            Anonymous::Ignore => return,
            // Desde la dirección de una sesión: olvidó el token (en `nc -u`
            // hay que escribirlo). Esa dirección ya probó que recibe, y la
            // respuesta dice cómo, aunque mida más que el triple.
            Anonymous::Answer(Event::Error(Problem::BadToken))
                if self.chat.room.holds_udp(from) =>
            {
                let hint = Event::Error(Problem::TokenFirst);
                return self.answer(from, &hint, size, true);
            }
            Anonymous::Answer(event) => return self.answer(from, &event, size, proven),
            Anonymous::SignIn(credentials) => credentials,
        };
        if !proven {
            return self.challenge(from, size);
        }
        // Si el hilo de entradas tiene la cola llena, esta se pierde, como
        // un datagrama: el cliente vuelve a intentar. (Una del modo
        // confiable no llega aquí con la cola llena: no se acusó.)
        self.signins.offer(SigninJob { credentials, from });
    }

    /// Un datagrama `<TOKEN> <línea>`: se atiende como si la línea hubiera
    /// llegado por la conexión de ese usuario, y la respuesta vuelve a la
    /// dirección de este datagrama. Desde una dirección que la sesión no
    /// conoce, solo si el origen está probado: si no, se le pide la prueba.
    fn with_token(
        &self,
        token: &str,
        line: &str,
        from: SocketAddr,
        admitted: Admitted,
        size: usize,
    ) {
        let proven = admitted.proven();
        let user = match self
            .chat
            .room
            .by_token(token, from, proven, |a| self.endpoints.endpoint(a))
        {
            TokenCheck::Known(user) => user,
            TokenCheck::Unproven => return self.challenge(from, size),
            TokenCheck::Unknown => {
                return self.answer(from, &Event::Error(Problem::BadToken), size, proven);
            }
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
        // El límite es del usuario: el mismo balde que su conexión TCP.
        if matches!(admitted, Admitted::No { .. })
            && !self.chat.admit_datagram(&user.name, &mut reply)
        {
            return;
        }
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

    fn expire(&self) {
        if self.chat.guard.lines_per_sec().is_some() {
            let now = Instant::now();
            self.anonymous.borrow_mut().retain(|addr, pacer| {
                if let Some(dropped) = pacer.take_dropped(now) {
                    self.chat.log_dropped(&format!("{addr} (UDP)"), dropped);
                }
                !pacer.is_calm(now)
            });
            for (name, dropped) in self.chat.guard.floods_ended(now) {
                self.chat.log_dropped(&name, dropped);
            }
        }
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

/// Cuánto tiempo después un `:register` repetido desde la misma dirección
/// es el mismo pedido, cuya respuesta se perdió (ver [`Registrations`]): el
/// minuto en que un cliente reintenta.
const REGISTER_REPEAT: Duration = Duration::from_secs(60);

/// Entradas por UDP (de un origen probado) que pueden esperar su hash a
/// la vez; las de más se descartan, como un datagrama perdido.
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

    /// Responde directamente a una dirección que probó que recibe.
    fn answer(&self, to: SocketAddr, event: &Event) {
        let line = event.to_line();
        let line = line.strip_suffix('\n').unwrap_or(&line);
        self.socket.send_line(to, line);
    }
}

/// `true` si `recv_from` falló sin que el socket esté roto: venció el
/// plazo (para revisar los temporizadores), una señal lo interrumpió, o
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

/// Si una línea ya pasó el límite de líneas por segundo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admitted {
    /// La de un par confiable: se contó al acusarla (su dirección está
    /// probada por el par).
    Yes,
    /// La de un datagrama simple: se cuenta al atenderla. `proven`: trajo
    /// la cookie de su dirección.
    No { proven: bool },
}

impl Admitted {
    /// `true` si la dirección de la línea está probada.
    fn proven(self) -> bool {
        matches!(self, Admitted::Yes | Admitted::No { proven: true })
    }
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

/// Un `:login` o `:register` de un origen probado, para el hilo de entradas.
struct SigninJob {
    credentials: Credentials,
    from: SocketAddr,
}

/// El hilo de entradas por UDP: cada `:login`/`:register` de un origen probado
/// (la dirección ya probó que recibe) se atiende aquí, con su hash, y la
/// respuesta sale completa. `waiting`: las entradas en la cola, que este
/// hilo descuenta al tomar cada una. Termina cuando se suelta el
/// [`UdpServer`].
///
/// Una entrada repetida (el cliente no vio la respuesta, que se perdió)
/// recibe la misma respuesta: un `:login` repetido lo resuelve la sala
/// ([`crate::curso::room::Claim::Again`]); un `:register` repetido encontraría la
/// cuenta ya creada, así que, si es de la misma dirección y dentro de
/// [`REGISTER_REPEAT`], se atiende como el `:login` que es (ver
/// [`Registrations`]).
fn sign_in_loop(
    chat: &Chat,
    endpoints: &Endpoints,
    jobs: Receiver<SigninJob>,
    waiting: &AtomicUsize,
) {
    let mut registrations = Registrations::default();
    for SigninJob { credentials, from } in jobs {
        waiting.fetch_sub(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut result = sign_in(chat, endpoints, &credentials, from, true);
        if credentials.register {
            match &result {
                Ok(_) => registrations.created(from, &credentials.name, now),
                Err(Problem::NameTaken(name)) if registrations.made(from, name, now) => {
                    let login = Credentials {
                        register: false,
                        ..credentials
                    };
                    // Sin contar el fallo: quien se equivoca aquí escribió
                    // otra contraseña en un `:register`, y la respuesta es
                    // la de siempre, "name taken".
                    result = sign_in(chat, endpoints, &login, from, false).map_err(|e| match e {
                        Problem::BadCredentials => Problem::NameTaken(login.name),
                        other => other,
                    });
                }
                Err(_) => {}
            }
        }
        if let Err(problem) = result {
            endpoints.answer(from, &Event::Error(problem));
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

/// Las cuentas creadas por UDP en el último [`REGISTER_REPEAT`], con la
/// dirección que las creó: un `:register` repetido desde ahí es el mismo
/// pedido, cuya respuesta se perdió. Solo lo toca el hilo de entradas. Se
/// olvida lo vencido en cada consulta, así que no crece más que las cuentas
/// que se pueden crear en un minuto (`--max-registrations-per-ip`).
#[derive(Default)]
struct Registrations {
    made: Vec<(SocketAddr, String, Instant)>,
}

impl Registrations {
    /// Anota que `from` creó la cuenta `name` a la hora `now`.
    fn created(&mut self, from: SocketAddr, name: &str, now: Instant) {
        self.forget_old(now);
        self.made.push((from, protocolo::name_key(name), now));
    }

    /// `true` si `from` creó la cuenta `name` hace menos de
    /// [`REGISTER_REPEAT`].
    fn made(&mut self, from: SocketAddr, name: &str, now: Instant) -> bool {
        self.forget_old(now);
        let key = protocolo::name_key(name);
        self.made.iter().any(|(a, k, _)| *a == from && *k == key)
    }

    fn forget_old(&mut self, now: Instant) {
        self.made
            .retain(|(_, _, at)| now.duration_since(*at) < REGISTER_REPEAT);
    }
}
