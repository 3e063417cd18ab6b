//! El socket UDP del programa completo: su respuesta al punto de enchufe
//! [`Datagrams`] del bucle de `recv_from` del curso. Apila, de abajo hacia
//! arriba:
//! - el laboratorio de pérdidas (`laboratorio/lossy.rs`, `--udp-loss`...);
//! - la prueba de dirección con cookie y el límite del triple
//!   (`cookie.rs`);
//! - los límites de líneas por segundo de cada usuario y de cada dirección
//!   sin sesión (`abuse.rs`): lo que pasa del límite se descarta, porque
//!   UDP no tiene cómo frenar al emisor;
//! - la entrega confiable de quien la pide (`cliente --udp --reliable`):
//!   un par por dirección (`laboratorio/peers.rs`) que acusa, ordena y
//!   retransmite;
//! - las colas de salida acotadas (`rendimiento/outbox.rs`), que comparten
//!   el techo de memoria con las de TCP;
//! - la tanda: una ráfaga de datagramas se lee de una vez
//!   (`rendimiento/drain.rs`), y lo que sale mientras se atiende se junta
//!   por destino en datagramas de varias líneas ([`COALESCE_BYTES`]).
//!
//! Al bucle del curso le devuelve las líneas que debe atender, sin cookie
//! ni marco: las reglas del chat las sigue decidiendo él. Antes, a quien
//! quiere entrar o mudar su sesión a otra dirección sin haber probado que
//! recibe lo que se le envía, le pide la prueba, y a un origen sin probar
//! no le responde más del triple de lo que envió.

use crate::curso::protocolo::{self, Command, Event, MAX_LINE_BYTES, Problem, split_token};
use crate::curso::room::Via;
use crate::curso::seams::{Datagram, Datagrams, Output};
use crate::curso::session::{Anonymous, Chat, before_sign_in};
use crate::curso::sync::lock;
use crate::extra::abuse::{Guards, Pacer, Verdict};
use crate::extra::cookie::split_cookie;
use crate::extra::cookie::{Cookies, challenge_line, fits};
use crate::extra::laboratorio::peers::{Offer, Peers};
use crate::extra::laboratorio::reliable::{MAX_RETRIES, Packet};
use crate::extra::notices::Notice;
use crate::extra::rendimiento::outbox::{Flusher, Link, Outbox};
use crate::extra::stats;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Cada cuánto, como mucho, se olvidan los límites de las direcciones que
/// se calmaron y se anotan las ráfagas que terminaron.
const SWEEP_EVERY: Duration = Duration::from_millis(200);

/// El tamaño máximo, en bytes, de un datagrama de varias líneas: 1200, lo
/// que QUIC supone que cruza cualquier camino sin fragmentarse (RFC 9000
/// §14). Un datagrama más grande que la MTU se corta en fragmentos IP, y
/// perder uno pierde todas sus líneas. Una línea más larga sale sola.
pub const COALESCE_BYTES: usize = 1200;

/// Por qué se juntan líneas: medido con un guion de `perf` sobre el
/// servidor de release, con 100.000 líneas de alice a bob por UDP sin
/// pérdida, el hilo UDP pasaba el 88 % del tiempo del proceso, y de eso el
/// 46 % en `recvfrom` y `sendto`: dos llamadas al sistema por línea, y un
/// despertar del cliente que recibe por cada una. TCP lee y escribe muchas
/// líneas por llamada. Juntar por destino lo que sale de una tanda lleva a
/// UDP a lo mismo, sin cambiar el protocolo: el cliente ya lee cada línea
/// de un datagrama (un cliente envía una línea por datagrama; el servidor
/// puede enviar varias).
type Batch = HashMap<SocketAddr, Vec<u8>>;

/// La pila del programa completo.
pub struct Stack {
    /// Lo de abajo: el laboratorio sobre el `UdpSocket`.
    inner: Box<dyn Datagrams>,
    cookies: Cookies,
    /// Las direcciones en modo confiable.
    peers: Arc<Peers>,
    flusher: Arc<Flusher>,
    /// Límite de bytes pendientes de cada cola (`--max-queue-bytes`).
    queue_limit: usize,
    /// La sala y las cuentas, para saber de quién es un token.
    chat: Arc<Chat>,
    /// Los límites de líneas por segundo de cada usuario.
    guards: Arc<Guards>,
    /// El ritmo de cada dirección que envía sin token. Lo toca el hilo UDP
    /// (al recibir y en cada `tick`); el candado solo hace falta porque el
    /// punto de enchufe es `Sync`.
    anonymous: Mutex<HashMap<SocketAddr, Box<dyn Pacer>>>,
    /// El datagrama que el bucle del curso está atendiendo: a quién
    /// responde [`Datagrams::answer`] y con qué cota. Lo escribe y lo lee
    /// solo el hilo UDP, entre un `recv_from` y el siguiente.
    current: Mutex<Current>,
    /// Lo que sale, por destino, mientras el hilo UDP atiende una tanda
    /// (`None` fuera de una tanda, o si no se junta: con el laboratorio
    /// encendido cada línea sale sola, para que la pérdida sea por línea).
    /// El candado lo toman el hilo UDP y cualquiera que envíe a un usuario
    /// UDP mientras tanto (lo que difunde un cliente TCP), lo que dura
    /// agregar una línea; nunca mientras se envía.
    batch: Mutex<Option<Batch>>,
    /// Si se juntan líneas en tandas.
    coalesce: bool,
    /// El silencio que se tolera a un par confiable (para la consola).
    reliable_timeout: Duration,
}

/// Los números de la pila que vienen de la línea de comandos.
#[derive(Debug, Clone, Copy)]
pub struct StackSettings {
    /// Límite de bytes pendientes de cada cola (`--max-queue-bytes`).
    pub queue_limit: usize,
    /// Pares del modo confiable a la vez por dirección IP
    /// (`--max-clients-per-ip`; 0 = sin límite).
    pub pairs_per_ip: usize,
    /// Cuánto silencio, con algo en vuelo, da a un par confiable por ido y
    /// termina su sesión (`--reliable-timeout-secs`).
    pub reliable_timeout: Duration,
    /// Si lo que sale durante una tanda se junta en datagramas de varias
    /// líneas (no con el laboratorio encendido).
    pub coalesce: bool,
}

/// El datagrama en curso (ver [`Stack::current`]).
#[derive(Clone, Copy)]
struct Current {
    from: Option<SocketAddr>,
    /// Su tamaño en bytes: a un origen sin probar se le responde a lo
    /// sumo el triple.
    size: usize,
    /// Su origen probó que recibe (trajo su cookie, o es el de una sesión
    /// confiable).
    proven: bool,
}

impl Stack {
    /// La pila sobre `inner`, para la sala de `chat` con los límites de
    /// `guards`; las colas usan `flusher`; el resto, en `settings`.
    pub fn new(
        inner: Box<dyn Datagrams>,
        chat: Arc<Chat>,
        guards: Arc<Guards>,
        flusher: Arc<Flusher>,
        settings: StackSettings,
    ) -> Stack {
        Stack {
            inner,
            cookies: Cookies::random(Instant::now()),
            peers: Arc::new(Peers::new(
                Arc::clone(&flusher),
                settings.pairs_per_ip,
                MAX_LINE_BYTES,
                settings.reliable_timeout,
            )),
            flusher,
            queue_limit: settings.queue_limit,
            reliable_timeout: settings.reliable_timeout,
            chat,
            guards,
            anonymous: Mutex::new(HashMap::new()),
            current: Mutex::new(Current {
                from: None,
                size: 0,
                proven: false,
            }),
            batch: Mutex::new(None),
            coalesce: settings.coalesce,
        }
    }

    /// Junta `text` (una línea) con lo que ya va hacia `to` en la tanda en
    /// curso; si no cabe, lo que ya iba sale antes. `false` si no hay
    /// tanda: quien llama la envía sola.
    fn coalesce(&self, to: SocketAddr, text: &str) -> bool {
        let full = {
            let mut batch = lock(&self.batch);
            let Some(batch) = batch.as_mut() else {
                return false;
            };
            let pending = batch.entry(to).or_default();
            let full = (!pending.is_empty() && pending.len() + text.len() + 1 > COALESCE_BYTES)
                .then(|| std::mem::take(pending));
            pending.extend_from_slice(text.as_bytes());
            pending.push(b'\n');
            full
        };
        if let Some(full) = full {
            let _ = self.inner.send_to(&full, to);
        }
        true
    }

    /// Cierra la tanda: sale lo juntado, un datagrama por destino.
    fn flush_batch(&self) {
        let Some(batch) = lock(&self.batch).take() else {
            return;
        };
        for (to, bytes) in batch {
            let _ = self.inner.send_to(&bytes, to);
        }
    }

    /// `line` a `to`, que envió un datagrama de `size` bytes: entera a un
    /// origen probado (`proven`); a uno sin probar, a lo sumo el triple
    /// (RFC 9000 §8.1), y lo que no cabe se cambia por el pedido de la
    /// prueba.
    fn reply(&self, to: SocketAddr, line: &str, size: usize, proven: bool) {
        if proven {
            self.send_line(to, line);
        } else if fits(line.len() + 1, size) {
            // Sola, fuera de la tanda: lo que se le responde a un origen sin
            // probar se mide datagrama por datagrama.
            let _ = self.inner.send_to(format!("{line}\n").as_bytes(), to);
        } else {
            self.challenge(to, size);
        }
    }

    /// Pide a `to` que pruebe su dirección; `size`: los bytes del datagrama
    /// que lo causó (el pedido no mide más del triple).
    fn challenge(&self, to: SocketAddr, size: usize) {
        let cookie = self.cookies.issue(to, Instant::now());
        if let Some(line) = challenge_line(&cookie, size) {
            let _ = self.inner.send_to(line.as_bytes(), to);
        }
    }

    /// Lo que un origen sin probar no puede hacer todavía: entrar (una
    /// entrada cuesta un hash, y la respuesta iría a quien quizá no la
    /// pidió) ni mudar una sesión a su dirección (con un token robado y el
    /// origen falsificado, el chat de otro iría a una tercera dirección).
    fn needs_proof(&self, token: Option<&str>, line: &str, from: SocketAddr) -> bool {
        match token {
            Some(token) => self
                .chat
                .room
                .token_owner(token)
                .is_some_and(|(_, at)| at != Some(from)),
            None => {
                let parsed = protocolo::parse_command(line);
                matches!(before_sign_in(parsed, Via::Udp), Anonymous::SignIn(_))
            }
        }
    }

    /// Una línea sin marco: pasa si está dentro del límite de su usuario
    /// (con un token de esta dirección) o de su dirección (sin token). La
    /// primera descartada de cada ráfaga recibe [`Problem::TooFast`].
    fn paced(&self, token: Option<&str>, line: &str, d: &Datagram<'_>, proven: bool) -> bool {
        let Some(per_sec) = self.guards.lines_per_sec() else {
            return true;
        };
        let now = Instant::now();
        let verdict = match token {
            // Solo cuenta el token usado desde su propia dirección (o desde
            // una probada): si no, otro gastaría el límite del dueño.
            Some(token) => match self.user_of(token, line, d.from, proven) {
                Some(name) => self.guards.datagram_from(&name, now),
                None => return true,
            },
            None => self.anonymous_verdict(d.from, now),
        };
        match verdict {
            Verdict::Pass | Verdict::Delay { .. } => true,
            Verdict::Drop { warn } => {
                stats::datagram_dropped();
                if warn {
                    let notice = Event::Error(Notice::TooFast(per_sec).problem()).to_line();
                    let known = proven || token.is_some();
                    let size = lock(&self.current).size;
                    self.reply(d.from, notice.trim_end_matches('\n'), size, known);
                }
                false
            }
        }
    }

    /// El usuario cuyo `token` trae una línea de `from`, si cuenta para su
    /// límite: `:q` siempre pasa (irse no se limita).
    fn user_of(&self, token: &str, line: &str, from: SocketAddr, proven: bool) -> Option<String> {
        let (name, at) = self.chat.room.token_owner(token)?;
        if !(proven || at == Some(from)) {
            return None;
        }
        let quits = protocolo::parse_command(line) == Ok(Some(Command::Quit));
        (!quits).then_some(name)
    }

    /// Cuenta una línea sin token de `from` en el límite de su dirección.
    fn anonymous_verdict(&self, from: SocketAddr, now: Instant) -> Verdict {
        let mut anonymous = lock(&self.anonymous);
        let pacer = match anonymous.entry(from) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => match self.guards.anonymous_pacer(now) {
                Some(pacer) => new.insert(pacer),
                None => return Verdict::Pass,
            },
        };
        pacer.check(now)
    }

    /// `true` si una línea nueva del modo confiable (aún sin acusar) se
    /// puede tomar ahora: pasa el límite de líneas de su usuario (con
    /// token) o de su dirección (sin token), y, si es una entrada, llega en
    /// orden (se atiende ya, no queda guardada) y hay lugar en la cola de
    /// entradas. Cuenta la línea en el límite, como si ya se atendiera. Una
    /// línea que solo recibirá un error (demasiado larga, un token
    /// desconocido) se toma.
    fn admits(&self, token: Option<&str>, line: &str, d: &Datagram<'_>, in_order: bool) -> bool {
        if line.len() > MAX_LINE_BYTES {
            return true;
        }
        let now = Instant::now();
        let verdict = match token {
            Some(token) => match self.user_of(token, line, d.from, true) {
                Some(name) => self.guards.datagram_from(&name, now),
                None => return true,
            },
            None => {
                let parsed = protocolo::parse_command(line);
                let signs_in = matches!(before_sign_in(parsed, Via::Udp), Anonymous::SignIn(_));
                if signs_in && (!in_order || d.signins_full) {
                    return false;
                }
                self.anonymous_verdict(d.from, now)
            }
        };
        if let Verdict::Drop { .. } = verdict {
            stats::datagram_dropped();
            return false;
        }
        true
    }

    /// Una línea confiable de `from`, que probó su dirección, con el token
    /// de una sesión que estaba en otra: la sesión se muda (la línea, al
    /// llegar al bucle del curso, muda su dirección en la sala), y su par
    /// se muda antes con ella, con su secuencia (ver [`Peers::migrate`]).
    /// Se muda con una línea de datos, no con un acuse: la línea es la que
    /// muda la sala, y el cliente, al recibir la cookie, reenvía primero lo
    /// más viejo, que se entrega en orden.
    fn follow_move(&self, token: Option<&str>, from: SocketAddr) {
        let Some((_, Some(old))) = token.and_then(|t| self.chat.room.token_owner(t)) else {
            return;
        };
        if old != from && self.peers.migrate(old, from) {
            self.chat.log(&format!(
                "{old} (UDP) moved to {from}: its reliable pair moves with it"
            ));
        }
    }

    /// Un datagrama del modo confiable (`:seq <n> <línea>` o `:ack <n>`)
    /// de `d.from`: pasa por su par (ver `peers`), sale el acuse y vuelven,
    /// en orden, las líneas que ya se pueden entregar, con el token
    /// delante.
    ///
    /// Cada datagrama confiable trae la prueba de su sesión: la cookie de
    /// su origen, o el token de una sesión abierta desde esa misma
    /// dirección (o que lo estuvo y terminó: su par lo recuerda, ver
    /// [`Peers::knows`]). Sin ella no toca nada (ni crea un par, ni entrega, ni
    /// acusa, ni mueve la ventana) y se pide la prueba. Así un datagrama con
    /// el origen de otro, que no recibe lo que se le envía a ese otro, no
    /// puede crear cuentas a su nombre, ni meter líneas en su secuencia, ni
    /// acusar lo que el otro no recibió: TCP se defiende de lo mismo con los
    /// números de secuencia al azar (RFC 6528) y la ventana (RFC 5961);
    /// aquí la prueba es explícita.
    fn reliable(
        &self,
        packet: Packet,
        token: Option<&str>,
        d: &Datagram<'_>,
        proven: bool,
    ) -> Vec<String> {
        let from = d.from;
        let size = lock(&self.current).size;
        // El token prueba la dirección si su sesión está en ella o, ya
        // terminada (`:q`), si el par de esta dirección lo recuerda: sin
        // eso, ningún acuse de la despedida se tomaría. Una sesión viva en
        // otra dirección no se prueba así: mudarla pide la cookie.
        let at_home = |t| match self.chat.room.token_owner(t) {
            Some((_, at)) => at == Some(from),
            None => self.peers.knows(from, t),
        };
        if !(proven || token.is_some_and(at_home)) {
            self.challenge(from, size);
            return Vec::new();
        }
        lock(&self.current).proven = true;
        // Acusar es aceptar: una línea nueva que se descartaría (el límite
        // de líneas, la cola de entradas llena) no se toma ni se acusa, y el
        // emisor la vuelve a enviar con su plazo, que se duplica: eso lo
        // frena, como a un emisor TCP su ventana.
        if let Packet::Data {
            seq,
            start,
            payload,
        } = &packet
            && let Some(in_order) = self.peers.expects(from, *seq, *start)
            && !self.admits(token, payload, d, in_order)
        {
            return Vec::new();
        }
        if proven && matches!(packet, Packet::Data { .. }) {
            self.follow_move(token, from);
        }
        let Some(arrival) = self.peers.arrived(from, packet, true, Instant::now()) else {
            self.challenge(from, size);
            return Vec::new();
        };
        if let Some(token) = token {
            self.peers.remember_token(from, token);
        }
        for packet in arrival.send {
            let _ = self.inner.send_to(format!("{packet}\n").as_bytes(), from);
        }
        let with_token = |line: String| match token {
            Some(token) => format!("{token} {line}"),
            None => line,
        };
        arrival.deliver.into_iter().map(with_token).collect()
    }

    /// Arranca el hilo de los temporizadores de `stack`: llama a
    /// [`Stack::tick`] (`idle`: la inactividad de las sesiones) cuando vence
    /// el plazo más cercano de un emisor confiable, o cada `SWEEP_EVERY`
    /// si hay pares o límite de líneas, y anota en la consola de `chat` lo
    /// que devuelve. Entre una vuelta y otra duerme en el despertador de
    /// los pares ([`crate::extra::laboratorio::alarm::Alarm`]), que lo despierta antes si alguien arma
    /// un plazo más cercano. Es un hilo aparte del de `recv_from`: así el
    /// bucle del curso no sabe de retransmisiones. Termina cuando se
    /// suelta el último `Arc` de `stack` (el servidor UDP) fuera de una
    /// espera, que dura a lo sumo `SWEEP_EVERY`. Error: no se pudo crear
    /// el hilo.
    pub fn start_timers(stack: &Arc<Stack>, chat: Arc<Chat>, idle: Duration) -> io::Result<()> {
        let stack = Arc::downgrade(stack);
        thread::Builder::new()
            .name("udp timers".into())
            .spawn(move || {
                let mut next = None;
                loop {
                    let Some(stack) = stack.upgrade() else { return };
                    let sweep = Instant::now() + SWEEP_EVERY;
                    stack
                        .peers
                        .alarm()
                        .wait_until(next.map_or(sweep, |at: Instant| at.min(sweep)));
                    next = None;
                    if stack.peers.is_empty() && stack.guards.lines_per_sec().is_none() {
                        continue;
                    }
                    let (lines, due) = stack.tick(Instant::now(), idle);
                    next = due;
                    for line in lines {
                        chat.log(&line);
                    }
                }
            })?;
        Ok(())
    }

    /// Sale lo vencido del modo confiable, y se anota a quien se dio por
    /// ido (su sesión, si sigue, termina por inactividad, como la de
    /// cualquier usuario UDP que se fue sin `:q`). Se olvida el ritmo de
    /// las direcciones que se calmaron, y se anotan los datagramas
    /// descartados de cada ráfaga que terminó. Devuelve esas líneas para la
    /// consola y el plazo más cercano de los pares que quedan.
    pub fn tick(&self, now: Instant, idle: Duration) -> (Vec<String>, Option<Instant>) {
        let tick = self.peers.tick(now, idle);
        for (to, packet) in tick.send {
            let _ = self.inner.send_to(format!("{packet}\n").as_bytes(), to);
        }
        let mut lines = Vec::new();
        for (addr, token) in tick.gone {
            lines.push(format!(
                "{addr} (UDP) acknowledged nothing for {} s (or {MAX_RETRIES} probes): reliable mode gave up",
                self.reliable_timeout.as_secs()
            ));
            // Su sesión termina ya, si sigue en esa dirección, y los demás
            // lo ven irse: no hay a quién más esperar.
            let here = |t: &String| {
                self.chat
                    .room
                    .token_owner(t)
                    .is_some_and(|(_, at)| at == Some(addr))
            };
            if let Some(token) = token.filter(here) {
                self.chat.leave(&token);
            }
        }
        let per_sec = self.guards.lines_per_sec().unwrap_or(0);
        let mut dropped = |who: String, n: u32| {
            lines.push(format!(
                "{who}: {n} UDP lines dropped (over {per_sec} lines per second)"
            ));
        };
        lock(&self.anonymous).retain(|addr, pacer| {
            if let Some(n) = pacer.take_dropped(now) {
                dropped(format!("{addr} (UDP)"), n);
            }
            !pacer.is_calm(now)
        });
        for (name, n) in self.guards.finished_floods(now) {
            dropped(name, n);
        }
        (lines, tick.next)
    }
}

impl Datagrams for Stack {
    /// Cada datagrama que llega pasa a ser el datagrama en curso, sin probar
    /// hasta que [`Datagrams::admit`] vea su cookie.
    /// La tanda: lo que salga mientras se atienden los datagramas que
    /// llegaron juntos se junta por destino ([`COALESCE_BYTES`]) y sale al
    /// terminar.
    fn receive(
        &self,
        buffer: &mut [u8],
        each: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<()> {
        let result = self.inner.receive(buffer, &mut |bytes, from| {
            if self.coalesce {
                lock(&self.batch).get_or_insert_with(Batch::new);
            }
            *lock(&self.current) = Current {
                from: Some(from),
                size: bytes.len(),
                proven: false,
            };
            each(bytes, from);
        });
        self.flush_batch();
        result
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.inner.send_to(bytes, to)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// La cookie de delante, si trae una: una que no vale (vencida, o de
    /// otra dirección) solo recibe otra. Después, el marco del modo
    /// confiable, la prueba que falta o el límite de líneas.
    fn admit(&self, d: &Datagram<'_>) -> Vec<String> {
        let size = lock(&self.current).size;
        let (proven, text) = match split_cookie(d.text) {
            Some((cookie, rest)) if self.cookies.check(d.from, cookie, Instant::now()) => {
                (true, rest)
            }
            Some(_) => {
                self.challenge(d.from, size);
                return Vec::new();
            }
            None => (false, d.text),
        };
        lock(&self.current).proven = proven;
        let (token, line) = match split_token(text) {
            Some((token, line)) => (Some(token), line),
            None => (None, text),
        };
        if let Some(packet) = Packet::parse(line) {
            return self.reliable(packet, token, d, proven);
        }
        if !proven && self.needs_proof(token, line, d.from) {
            self.challenge(d.from, size);
            return Vec::new();
        }
        if !self.paced(token, line, d, proven) {
            return Vec::new();
        }
        vec![text.to_string()]
    }

    /// A quien envió el datagrama en curso, con su cota (ver `reply`).
    fn answer(&self, to: SocketAddr, event: &Event) {
        let current = *lock(&self.current);
        let (size, proven) = match current.from {
            Some(from) if from == to => (current.size, current.proven),
            _ => (0, false),
        };
        // El curso la envía solo a la dirección de una sesión, que olvidó
        // el token (en `nc -u` hay que escribirlo): esa dirección ya probó
        // que recibe, y la respuesta dice cómo, aunque mida más que el
        // triple.
        let hint = *event == Event::Error(Problem::TokenFirst);
        let line = event.to_line();
        self.reply(to, line.trim_end_matches('\n'), size, proven || hint);
    }

    /// Si `to` usa el modo confiable, la línea entra en el emisor de su par
    /// (numerada; quizá sale más tarde, si la ventana está llena: `false`
    /// si no hay lugar); si no, sale tal cual. Si el kernel no puede
    /// enviarla, se pierde: es UDP (y el modo confiable la retransmitirá).
    fn send_line(&self, to: SocketAddr, text: &str) -> bool {
        match self.peers.offer(to, text, Instant::now()) {
            Offer::Plain => {
                if !self.coalesce(to, text) {
                    let _ = self.inner.send_to(format!("{text}\n").as_bytes(), to);
                }
                true
            }
            Offer::Sent(packets) => {
                for packet in packets {
                    let _ = self.inner.send_to(format!("{packet}\n").as_bytes(), to);
                }
                true
            }
            Offer::Full => false,
        }
    }

    /// Una cola acotada hacia `to` (ver `outbox`), que cuenta para el techo.
    fn output(&self, me: &Arc<dyn Datagrams>, to: SocketAddr) -> Arc<dyn Output> {
        let link = UdpLink {
            socket: Arc::clone(me),
            peers: Arc::clone(&self.peers),
            addr: to,
        };
        Outbox::new(link, self.queue_limit, &self.flusher)
    }
}

/// Un destino UDP como [`Link`] de una cola: cada línea sale en su propio
/// datagrama (ver [`Stack::send_line`]).
struct UdpLink {
    socket: Arc<dyn Datagrams>,
    peers: Arc<Peers>,
    addr: SocketAddr,
}

impl Link for UdpLink {
    /// Envía las líneas completas que puede y dice cuántos bytes salieron.
    /// Si el par confiable del destino tiene la ventana llena, lo demás
    /// queda en la cola (`WouldBlock`, como un socket TCP lleno): así lo
    /// que un usuario confiable no acusa cuenta para `--max-queue-bytes` y
    /// para el techo, y no en una segunda cola sin límite.
    fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            // Las líneas de la cola las escribió el servidor: son UTF-8.
            let sent = match std::str::from_utf8(text) {
                Ok(text) => self.socket.send_line(self.addr, text),
                Err(_) => {
                    let _ = self.socket.send_to(text, self.addr);
                    true
                }
            };
            if !sent {
                break;
            }
            taken += line.len();
        }
        if taken == 0 && !bytes.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Lo que el par confiable de este destino guarda (en vuelo, esperando
    /// lugar, adelantado): cuenta para `--max-queue-bytes` del usuario.
    fn held(&self) -> usize {
        self.peers.held(self.addr)
    }

    /// La cola se cerró (el usuario se fue, o pasó su límite): su par, si
    /// lo tiene, deja de aceptar líneas.
    fn close(&self) {
        self.peers.close(self.addr);
    }
}
