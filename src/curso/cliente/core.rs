//! El núcleo del cliente, común a todos sus modos: el estado de la sesión
//! que comparten el hilo que envía y los que reciben (en qué etapa está,
//! cuántas respuestas llegaron, el token, el socket UDP), cómo se lee cada
//! línea del servidor y cómo se envía cada línea del usuario. No abre
//! conexiones: eso lo hace cada modo.

use super::REPLY_WAIT;
use super::ending::Ending;
use super::screen::{Screen, Shown};
use super::seams::{Link, Plugins, ReliableMode};
use crate::curso::protocolo::{self, Command, Event, Problem};
use crate::curso::sync::wait_timeout_while;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Hasta cuántos bytes se rellena un datagrama mientras la dirección UDP no
/// está probada: con 64, el triple (lo más que el servidor responde a una
/// dirección sin probar) deja lugar de sobra para la cookie.
pub(crate) const UNPROVEN_DATAGRAM_BYTES: usize = 64;

/// Cuántas veces se envía, como mucho, una línea por UDP antes de entrar a
/// la sala si el servidor no responde nada, y cuánto se espera cada vez
/// (sin medir el tiempo de ida y vuelta, 1 s es lo que RFC 8085 §3.1.3
/// recomienda): un datagrama perdido no se reenvía solo, y sin respuesta
/// el usuario quedaría esperando para siempre. Diez, porque la pérdida del
/// laboratorio también se lleva la sonda y la cookie (con 30 % en cada
/// sentido, cada ida y vuelta falla la mitad de las veces, y diez seguidas,
/// una vez en mil); un servidor que no existe se nota antes, en el mismo
/// equipo, por el ICMP "puerto inalcanzable".
const UDP_TRIES: u32 = 10;
const UDP_RETRY: Duration = Duration::from_secs(1);

/// Cuántas veces se envía, como mucho, una línea antes de entrar a la sala
/// cuando el servidor ya respondió algo (está, pero la línea o su
/// respuesta se perdieron). Cada repetición es segura: una entrada repetida
/// recibe la misma respuesta (el servidor la reconoce), y en vez de repetir
/// el saldo se pregunta `:funds` (ver [`Shared::retry`]). Con 30 % de
/// pérdida en cada sentido, doce idas y vueltas fallan seguidas menos de
/// una vez en mil; después, la sesión termina como [`Ending::Lost`].
const HEARD_UDP_TRIES: u32 = 12;

/// Cada cuánto se repite el `:q` mientras no llega la despedida (ver
/// [`Shared::repeat_quit`]): más seguido que las líneas de antes de
/// entrar, porque ya no hay nada más que esperar.
const QUIT_RETRY: Duration = Duration::from_millis(500);

/// Cuánto espera el modo TCP, antes de enviar `:q`, la respuesta a un
/// `:ping` por UDP: el servidor atiende los datagramas en orden, así que
/// cuando llega su `pong` ya procesó las líneas que se enviaron por UDP
/// antes. Sin esto, el `:q` por TCP les gana y se pierden.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Tras cuántos `:ping` de mantenimiento sin respuesta se avisa que el
/// servidor no contesta.
const UNANSWERED_KEEPALIVES: u32 = 2;

/// Hasta dónde entró el cliente, según lo que el servidor le respondió. Es
/// lo que el cliente ve de la etapa del servidor (`Stage`, en
/// `session.rs`), no la etapa misma: por eso otro nombre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Todavía sin entrar (o con la entrada rechazada).
    Outside,
    /// El servidor preguntó el saldo de la cuenta nueva.
    AwaitingBalance,
    /// En la sala.
    Joined,
}

pub(crate) struct State {
    /// Hasta dónde entró.
    pub(crate) entry: Entry,
    /// Respuestas completas recibidas del servidor (para esperar la de la
    /// última línea enviada antes de enviar la siguiente).
    pub(crate) replies: u64,
    /// El nombre de la última línea `:login`/`:register` enviada.
    pub(crate) name: Option<String>,
    /// El token de la sesión, cuando llega.
    pub(crate) token: Option<String>,
    /// El socket UDP (siempre en modo `--udp`; en modo TCP, tras el token).
    pub(crate) udp: Option<Arc<UdpSocket>>,
    /// El servidor ya respondió algo que no es una cookie a este socket UDP:
    /// su dirección está probada (ver `cookie` en el servidor).
    pub(crate) udp_proven: bool,
    /// Mientras la dirección no está probada: la sonda enviada y los
    /// datagramas que esperan la cookie, en orden.
    pub(crate) unproven: Vec<String>,
    /// La última cookie que dio el servidor: para los datagramas que salgan
    /// antes de la primera respuesta de verdad, y para repetir una entrada
    /// (ver [`Shared::retry`]).
    pub(crate) cookie: Option<String>,
    /// En modo TCP: las líneas salen por UDP (`:udp`) en vez de TCP.
    pub(crate) lines_by_udp: bool,
    /// Se terminó la entrada del usuario.
    pub(crate) input_done: bool,
    /// El servidor se despidió.
    pub(crate) said_goodbye: bool,
    /// La conexión terminó.
    pub(crate) closed: bool,
    /// Por qué va a terminar, según el último aviso del servidor.
    pub(crate) ending: Option<Ending>,
    /// `:ping` que envió el propio cliente (mantenimiento, vaciado) cuyo
    /// `pong` no se muestra.
    pub(crate) auto_pings: u32,
    /// El último evento del servidor fue un error (ver
    /// [`Shared::is_stale`]).
    pub(crate) after_error: bool,
    /// Se envió `:funds` para saber si el servidor tomó el saldo cuya
    /// respuesta no llegó (ver [`Shared::retry`]): su error y la pregunta
    /// repetida no se muestran.
    pub(crate) probing_balance: bool,
    /// `:ping` enviados (por cualquier transporte) y `pong` recibidos: el
    /// servidor responde cada uno en orden, así que con `pongs == pings`
    /// ya atendió todo lo enviado antes del último `:ping`.
    pub(crate) pings: u64,
    pub(crate) pongs: u64,
    /// En modo TCP: alguna línea salió por UDP desde el último vaciado.
    pub(crate) sent_by_udp: bool,
    /// Llegó algún datagrama del servidor a este socket UDP.
    pub(crate) heard_udp: bool,
    /// El sistema dijo que nadie escucha en el puerto UDP del servidor
    /// (un ICMP "puerto inalcanzable").
    pub(crate) udp_refused: bool,
    /// Cuándo salió el último datagrama: el mantenimiento solo hace falta
    /// tras un rato de silencio.
    pub(crate) last_udp_send: Instant,
    /// Ya se avisó que el servidor no responde al mantenimiento.
    pub(crate) warned_silence: bool,
}

/// Lo que comparten el hilo que envía y los que reciben.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) changed: Condvar,
    pub(crate) screen: Arc<dyn Screen>,
    pub(crate) server: SocketAddr,
    /// El modo TCP (con `:udp`/`:tcp`); si no, el modo `--udp`.
    pub(crate) tcp_mode: bool,
    /// Cada cuánto, sin otros datagramas, el modo `--udp` envía `:ping`
    /// para que el servidor no cierre la sesión por inactividad.
    pub(crate) keepalive: Duration,
    /// Por dónde pasa cada datagrama (el socket tal cual, en el curso).
    link: Box<dyn Link>,
    /// La entrega confiable, si se enchufó una. Su candado, si tiene, se
    /// toma siempre *después* del de `state`, nunca al revés.
    pub(crate) reliable: Option<Box<dyn ReliableMode>>,
}

impl Shared {
    /// El estado de una sesión nueva. `udp`: el socket del modo `--udp`
    /// (`None` es el modo TCP, que lo abre al recibir el token);
    /// `keepalive`: cada cuánto, en silencio, el modo `--udp` envía
    /// `:ping`.
    pub(crate) fn new(
        screen: Arc<dyn Screen>,
        server: SocketAddr,
        udp: Option<Arc<UdpSocket>>,
        keepalive: Duration,
        plugins: Plugins,
    ) -> Arc<Shared> {
        let tcp_mode = udp.is_none();
        Arc::new(Shared {
            state: Mutex::new(State {
                entry: Entry::Outside,
                replies: 0,
                name: None,
                token: None,
                udp,
                udp_proven: false,
                unproven: Vec::new(),
                cookie: None,
                lines_by_udp: false,
                input_done: false,
                said_goodbye: false,
                closed: false,
                ending: None,
                auto_pings: 0,
                probing_balance: false,
                after_error: false,
                pings: 0,
                pongs: 0,
                sent_by_udp: false,
                heard_udp: false,
                udp_refused: false,
                last_udp_send: Instant::now(),
                warned_silence: false,
            }),
            changed: Condvar::new(),
            screen,
            server,
            tcp_mode,
            keepalive,
            link: plugins.link,
            reliable: plugins.reliable,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // El estado queda coherente en cada paso: un hilo que entró en
        // pánico no deja al resto del cliente sin él.
        crate::curso::sync::lock(&self.state)
    }

    /// Muestra una línea del servidor y actualiza el estado. Devuelve el
    /// evento reconocido, si lo hay.
    ///
    /// Primero se muestra y después se cambia el estado: el cambio es lo que
    /// despierta al hilo que envía (la respuesta llegó), y lo que ese hilo
    /// muestre después (`Me: hola`) debe quedar debajo de la respuesta.
    pub(crate) fn receive(&self, line: &str, me: SocketAddr) -> Option<Event> {
        let event = Event::parse(line);
        let (hidden, identity) = self.before_showing(&event);
        if !hidden {
            self.screen.show(Shown::Server {
                line: line.to_string(),
                event: event.clone(),
            });
        }
        if let Some(name) = identity {
            self.screen.show(Shown::Identity {
                name,
                me,
                server: self.server,
            });
        }
        if event == Some(Event::Help) && self.tcp_mode {
            self.screen.show(Shown::ClientHelp);
        }
        self.update(&event);
        event
    }

    /// Qué no se muestra de `event` y, tras `Welcome`, el nombre de la
    /// sesión. La pantalla se llama después, sin el candado tomado, para no
    /// frenar a los otros hilos.
    fn before_showing(&self, event: &Option<Event>) -> (bool, Option<String>) {
        let mut state = self.lock();
        // El token es un secreto: quien lo ve (un proyector en el aula)
        // puede usar la sesión y transferir el dinero. El cliente lo guarda
        // para `:udp` y `--udp`, y no lo muestra. El `pong` de
        // un `:ping` del propio cliente tampoco: no lo pidió el usuario.
        let hidden = match event {
            Some(Event::Token(_) | Event::UdpToken(_)) => true,
            Some(Event::Pong) => {
                let own = state.auto_pings > 0;
                state.auto_pings = state.auto_pings.saturating_sub(1);
                own
            }
            // La respuesta a la sonda del saldo: "no es un saldo" y la
            // pregunta otra vez. Lo que el usuario ve es el saldo aceptado,
            // cuando el cliente lo repita.
            Some(Event::Error(Problem::BadBalance)) if state.probing_balance => true,
            Some(Event::AskBalance) if state.probing_balance => true,
            _ if self.is_stale(&state, event) => true,
            // El apagado se avisa por TCP y también a la dirección UDP de
            // la sesión, y cada copia llega por su hilo: se muestra una vez.
            // Se anota aquí, con el mismo candado que la decisión: si se
            // anotara después, al actualizar el estado, las dos copias
            // podrían pasar por aquí antes y mostrarse las dos.
            Some(event) => match ending_after(event) {
                Some(ending) => state.ending.replace(ending) == Some(ending),
                None => false,
            },
            None => false,
        };
        let identity = match event {
            Some(Event::Welcome) if !hidden => Some(state.name.clone().unwrap_or_default()),
            _ => None,
        };
        (hidden, identity)
    }

    /// El estado tras `event`, ya mostrado; despierta a quien lo espera.
    fn update(&self, event: &Option<Event>) {
        let mut state = self.lock();
        let stale = self.is_stale(&state, event);
        state.after_error = matches!(event, Some(Event::Error(_)));
        if stale {
            return;
        }
        // Una respuesta termina en su última línea: `Welcome` y el token
        // siempre van seguidos de otra, y un error mientras se espera el
        // saldo (o el de la sonda del saldo), de la pregunta repetida.
        let last_of_reply = match event {
            Some(Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => false,
            // Lo que pasa en la sala no responde a nada del usuario: si
            // contara, una línea que espera su respuesta (el saldo cuya
            // respuesta se perdió, ya dentro) la daría por respondida.
            Some(
                Event::Public { .. }
                | Event::Private { .. }
                | Event::Connected(_)
                | Event::Disconnected(_)
                | Event::TransferReceived { .. },
            ) => false,
            Some(Event::Error(_)) => {
                state.entry != Entry::AwaitingBalance && !state.probing_balance
            }
            _ => true,
        };
        // En modo `--udp`, una entrada cuyo token se perdió (llegó lo que
        // lo sigue, y el token no) no terminó: sin token no se puede
        // enviar nada más. Se espera como si no hubiera llegado, y la
        // entrada se repite (el servidor responde lo mismo, con el token).
        let tokenless = !self.tcp_mode
            && state.token.is_none()
            && matches!(event, Some(Event::AskBalance | Event::Funds(_)));
        if tokenless {
            return;
        }
        if last_of_reply {
            state.replies += 1;
        }
        match event {
            Some(Event::Token(token) | Event::UdpToken(token)) => {
                state.token = Some(token.clone());
            }
            Some(Event::Pong) => {
                state.pongs += 1;
                state.warned_silence = false;
            }
            Some(Event::AskBalance) => state.entry = Entry::AwaitingBalance,
            Some(Event::BalanceSet(_) | Event::Funds(_)) => state.entry = Entry::Joined,
            Some(Event::Goodbye) => state.said_goodbye = true,
            Some(event) => {
                if let Some(ending) = ending_after(event) {
                    state.ending = Some(ending);
                }
            }
            None => {}
        }
        drop(state);
        self.changed.notify_all();
    }

    /// `true` si `event` es, en modo `--udp`, la copia tardía de una
    /// respuesta que ya llegó: el cliente repite una entrada o pregunta
    /// `:funds` cuando una respuesta no llega a tiempo (ver
    /// [`Shared::retry`]), y a veces llegan las dos, la tardía y la nueva.
    /// Una copia no se muestra ni cuenta como respuesta: si contara, la
    /// línea siguiente del usuario saldría antes de tiempo, quizá como el
    /// saldo. Se reconocen porque el servidor nunca las enviaría en esa
    /// etapa: la bienvenida ya entrado, y la pregunta del saldo ya en la
    /// sala, o esperando el saldo sin un error justo antes (la pregunta
    /// legítima sigue a "no es un saldo").
    fn is_stale(&self, state: &State, event: &Option<Event>) -> bool {
        if self.tcp_mode {
            return false;
        }
        match event {
            Some(Event::Welcome) => state.entry != Entry::Outside,
            Some(Event::AskBalance) => match state.entry {
                Entry::Joined => true,
                Entry::AwaitingBalance => !state.after_error,
                Entry::Outside => false,
            },
            _ => false,
        }
    }

    /// Cómo terminó la sesión, una vez cerrada.
    pub(crate) fn ending(&self) -> Ending {
        let state = self.lock();
        // En modo `--udp`, quien sale sin haber entrado no tenía sesión que
        // cerrar (ni despedida que esperar): salió, y no se perdió nada.
        let never_signed_in = !self.tcp_mode && state.input_done && state.token.is_none();
        match state.ending {
            _ if state.said_goodbye => Ending::Left,
            Some(ending) => ending,
            None if never_signed_in => Ending::Left,
            None => Ending::Lost,
        }
    }

    /// Envía `line` por UDP (con el token delante, si hay).
    ///
    /// Mientras la dirección no está probada (ver `cookie` en el servidor),
    /// sale un solo datagrama, la sonda, rellenado con espacios hasta
    /// [`UNPROVEN_DATAGRAM_BYTES`] (el servidor responde a una dirección sin
    /// probar a lo sumo el triple de lo que recibió, y la cookie no cabría
    /// en el triple de `:login a b`); los siguientes esperan en
    /// `unproven`. Cuando llega la cookie, salen todos con ella delante, en
    /// orden ([`Shared::resend_with_cookie`]), y los que vengan después la
    /// llevan también, hasta la primera respuesta de verdad. Si se enviaran
    /// todos sin esperar, el servidor atendería algunos directamente (los
    /// que llegan tras la prueba) y otros con la cookie, repetidos y en
    /// otro orden.
    ///
    /// Se envía con el candado tomado: así nada se cuela entre los
    /// reenviados con la cookie y los nuevos. Un envío UDP no espera a
    /// nadie.
    pub(crate) fn send_datagram(
        &self,
        udp: &UdpSocket,
        token: Option<&str>,
        line: &str,
    ) -> io::Result<()> {
        let mut state = self.lock();
        state.last_udp_send = Instant::now();
        state.pings += u64::from(line.trim() == ":ping");
        if self.reliable.is_some() {
            // El modo confiable enmarca a su manera (cookie, token, número).
            return self.send_reliable(udp, &state, line);
        }
        let mut datagram = match token {
            Some(token) => format!("{token} {line}"),
            None => line.to_string(),
        };
        if !state.udp_proven {
            if let Some(cookie) = &state.cookie {
                datagram = format!("{cookie} {datagram}");
            } else {
                if let Some(token) = token.filter(|_| state.unproven.is_empty())
                    && line.trim() != ":ping"
                {
                    // La sonda tiene que recibir respuesta: la cookie, o (un
                    // servidor que confía en la dirección, el del curso) la
                    // de la línea misma. Un mensaje a la sala no recibe
                    // ninguna, y lo que esperara detrás no saldría nunca.
                    // La sonda es entonces un `:ping`, cuyo `pong` no se
                    // muestra, y la línea espera detrás.
                    state.pings += 1;
                    state.auto_pings += 1;
                    let probe = padded(format!("{token} :ping"));
                    state.unproven.push(probe.clone());
                    self.transmit(udp, format!("{probe}\n").as_bytes())?;
                }
                datagram = padded(datagram);
                state.unproven.push(datagram.clone());
                if state.unproven.len() > 1 {
                    // Ya hay una sonda en camino: este espera la cookie.
                    return Ok(());
                }
            }
        }
        datagram.push('\n');
        self.transmit(udp, datagram.as_bytes())
    }

    /// Envía `bytes` (un datagrama) por `udp`, a través del enlace.
    /// Error: el de `send`.
    pub(crate) fn transmit(&self, udp: &UdpSocket, bytes: &[u8]) -> io::Result<()> {
        self.link.send(udp, bytes)
    }

    /// Un datagrama recibido, a través del enlace: los que siguen su
    /// camino (con el socket del curso, exactamente uno).
    pub(crate) fn arrived(&self, datagram: &[u8]) -> Vec<Vec<u8>> {
        self.link.arrived(datagram)
    }

    /// El servidor pidió probar la dirección: salen, con la cookie delante
    /// y en orden, los datagramas que esperaban, y la cookie queda para los
    /// siguientes. La cookie vale para todos (es de la dirección), y cada
    /// uno sale una sola vez: las cookies que lleguen después ya no
    /// encuentran nada que repetir.
    ///
    /// En modo confiable la cookie es la prueba de cada datagrama hasta que
    /// llegue el token, así que una nueva (la anterior venció) se guarda
    /// aunque la dirección ya esté probada, y lo que está en vuelo sale otra
    /// vez con ella.
    pub(crate) fn resend_with_cookie(&self, udp: &UdpSocket, cookie: &str) {
        let mut state = self.lock();
        if self.reliable.is_some() {
            if state.token.is_some() && state.udp_proven {
                return;
            }
            state.cookie = Some(cookie.to_string());
            return self.resend_reliable(udp, &state);
        }
        // Con la dirección ya probada, solo una entrada repetida espera la
        // cookie (ver [`Shared::retry`]); la cookie se guarda igual, para
        // la próxima repetición.
        state.cookie = Some(cookie.to_string());
        for datagram in std::mem::take(&mut state.unproven) {
            let _ = self.transmit(udp, format!("{cookie} {datagram}\n").as_bytes());
        }
    }

    /// Llegó una respuesta de verdad por UDP: la dirección está probada. Lo
    /// que esperaba detrás de la sonda (la cookie nunca llegó) sale ahora,
    /// tal cual.
    pub(crate) fn proven(&self, udp: &UdpSocket) {
        let mut state = self.lock();
        if state.udp_proven {
            return;
        }
        state.udp_proven = true;
        // El primero ya salió (es la sonda, o su repetición) y es el que
        // tiene respuesta: un servidor que confía en la dirección de origen
        // (el del curso) lo atendió sin pedir cookie. Repetirlo lo haría
        // atender dos veces: un `pong` de más, un `:login` repetido.
        for datagram in std::mem::take(&mut state.unproven).into_iter().skip(1) {
            let _ = self.transmit(udp, format!("{datagram}\n").as_bytes());
        }
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Espera a que el contador de respuestas pase de `before` (o a que se
    /// cierre la conexión), como mucho [`REPLY_WAIT`].
    pub(crate) fn wait_for_reply(&self, before: u64) {
        let state = self.lock();
        let _ = wait_timeout_while(&self.changed, state, REPLY_WAIT, |s| {
            s.replies == before && !s.closed
        });
    }

    /// Como [`Shared::wait_for_reply`], para `line`, enviada por UDP antes
    /// de entrar a la sala: si no llega respuesta en [`UDP_RETRY`], la
    /// repite ([`Shared::retry`]). Si el servidor nunca respondió nada, o
    /// el sistema avisó que nadie escucha en ese puerto, tras [`UDP_TRIES`]
    /// intentos cierra la sesión como [`Ending::Unreachable`]; si ya
    /// respondió algo, tras [`HEARD_UDP_TRIES`], como [`Ending::Lost`]. En
    /// ambos casos devuelve `false`. Toda espera termina: como mucho unos
    /// 15 s por línea.
    fn wait_for_udp_reply(&self, line: &str, mut before: u64, udp: &UdpSocket) -> bool {
        let mut attempt = 1;
        // Los intentos se cuentan de nuevo desde que el servidor respondió
        // algo: antes se buscaba un servidor, después, una respuesta.
        let mut heard_before = false;
        loop {
            let state = self.lock();
            let (mut state, _) = wait_timeout_while(&self.changed, state, UDP_RETRY, |s| {
                s.replies == before && !s.closed && !s.udp_refused
            });
            if state.closed {
                return true;
            }
            if state.replies != before {
                // Llegó: una entrada repetida que todavía esperaba la cookie
                // ya no hace falta.
                if state.udp_proven && self.reliable.is_none() {
                    state.unproven.clear();
                }
                // La respuesta a la sonda del saldo: si el servidor todavía
                // lo pregunta y esta línea era el saldo, no llegó, y sale
                // otra vez. (Si era la entrada, la sonda la completó.)
                let resend = std::mem::take(&mut state.probing_balance)
                    && state.entry == Entry::AwaitingBalance
                    && !signs_in(line);
                if !resend {
                    return true;
                }
                before = state.replies;
                let token = state.token.clone();
                drop(state);
                let _ = self.send_datagram(udp, token.as_deref(), line);
                continue;
            }
            let heard = state.heard_udp;
            if heard && !std::mem::replace(&mut heard_before, true) {
                attempt = 1;
            }
            if self.reliable.is_some() && heard {
                // Respondió algo (la cookie): el emisor confiable
                // retransmite solo, y la respuesta viene en camino.
                drop(state);
                self.wait_for_reply(before);
                return true;
            }
            let gives_up = if heard {
                attempt >= HEARD_UDP_TRIES
            } else {
                state.udp_refused || attempt >= UDP_TRIES
            };
            if gives_up {
                state.ending = Some(if heard {
                    Ending::Lost
                } else {
                    Ending::Unreachable
                });
                state.closed = true;
                drop(state);
                self.changed.notify_all();
                return false;
            }
            attempt += 1;
            self.retry(udp, state, line);
            if !heard {
                self.screen.show(Shown::Retrying {
                    attempt,
                    of: UDP_TRIES,
                });
            }
        }
    }

    /// Nada llegó al servidor, o nada volvió, para `line`: se repite lo
    /// que es seguro repetir.
    /// - Con el token ya recibido, esperando el saldo (o lo que sigue al
    ///   token), no el saldo: si el servidor lo tomó y solo se perdió la
    ///   respuesta, repetido sería un mensaje a la sala. Sale `:funds`, que
    ///   en la sala responde el saldo (y el cliente entra) y antes de
    ///   entrar recibe "no es un saldo" y la pregunta otra vez (y el saldo
    ///   sale de nuevo, ver [`Shared::wait_for_udp_reply`]).
    /// - Si algo espera la cookie (`unproven`), lo primero de eso: la sonda.
    /// - Si no, la misma línea: una entrada repetida recibe la misma
    ///   respuesta. Una sin token (`:login`, `:register`) lleva la última
    ///   cookie, y queda en `unproven` por si venció.
    ///
    /// En modo confiable, todo lo que está en vuelo, ya, sin esperar al
    /// plazo duplicado del emisor (que sin ninguna medición empieza en 1 s
    /// y va por 2 y 4).
    fn retry(&self, udp: &UdpSocket, mut state: MutexGuard<'_, State>, line: &str) {
        if self.reliable.is_some() {
            self.resend_reliable(udp, &state);
            return;
        }
        // Con el token ya en la mano, esperando el saldo o lo que sigue al
        // token (la pregunta, o el saldo, se perdió), la sonda `:funds` dice
        // en qué etapa está la sesión, con una respuesta más corta que la
        // entrada entera. La entrada ya no se repite.
        if let Some(token) = state.token.clone()
            && (signs_in(line) || state.entry == Entry::AwaitingBalance)
        {
            state.probing_balance = true;
            state.unproven.clear();
            drop(state);
            let _ = self.transmit(udp, format!("{token} :funds\n").as_bytes());
            return;
        }
        // Con la cookie que ya dio el servidor, si la hay: así una ida y
        // vuelta basta (si venció, la respuesta es otra cookie, y
        // `resend_with_cookie` repite lo que espera en `unproven`).
        let datagram = match (state.unproven.first(), &state.token) {
            (Some(first), _) => first.clone(),
            (None, Some(token)) => format!("{token} {line}"),
            (None, None) => {
                let datagram = padded(line.to_string());
                state.unproven.push(datagram.clone());
                datagram
            }
        };
        let bytes = match &state.cookie {
            Some(cookie) if state.token.is_none() => format!("{cookie} {datagram}\n"),
            _ => format!("{datagram}\n"),
        };
        drop(state);
        let _ = self.transmit(udp, bytes.as_bytes());
    }

    /// Modo TCP: antes de `:q`, si alguna línea salió por UDP, un `:ping`
    /// por UDP y la espera de su `pong` (como mucho [`DRAIN_WAIT`]), para
    /// que esas líneas lleguen antes que la salida.
    fn drain_udp(&self) {
        let (udp, token) = {
            let mut state = self.lock();
            let (Some(udp), Some(token)) = (state.udp.clone(), state.token.clone()) else {
                return;
            };
            if !std::mem::take(&mut state.sent_by_udp) {
                return;
            }
            state.auto_pings += 1;
            (udp, token)
        };
        if self.send_datagram(&udp, Some(&token), ":ping").is_err() {
            return;
        }
        // Se espera el `pong` de este `:ping` y de todos los anteriores (el
        // que presenta la dirección UDP puede llegar después, tras la
        // cookie): contar solo uno nuevo terminaría antes de tiempo.
        let state = self.lock();
        let (state, timed_out) = wait_timeout_while(&self.changed, state, DRAIN_WAIT, |s| {
            s.pongs < s.pings && !s.closed
        });
        drop(state);
        if timed_out {
            self.screen.show(Shown::UdpSilent);
        }
    }

    /// Modo `--udp`, llamado cada tanto por el receptor: tras
    /// [`Shared::keepalive`] sin enviar nada, un `:ping` para que el
    /// servidor no dé la sesión por abandonada (`--udp-idle-secs`). Si los
    /// últimos quedaron sin respuesta, lo avisa una vez.
    pub(crate) fn keep_alive(&self, udp: &UdpSocket) {
        let (token, warn) = {
            let mut state = self.lock();
            let idle = state.last_udp_send.elapsed() >= self.keepalive;
            let Some(token) = state.token.clone().filter(|_| idle) else {
                return;
            };
            if state.entry != Entry::Joined || state.closed || state.input_done {
                return;
            }
            let warn = state.auto_pings >= UNANSWERED_KEEPALIVES && !state.warned_silence;
            state.warned_silence |= warn;
            state.auto_pings += 1;
            (token, warn)
        };
        if warn {
            self.screen.show(Shown::NoAnswer);
        }
        let _ = self.send_datagram(udp, Some(&token), ":ping");
    }
}

/// `true` si `line` es una entrada (`:login` o `:register`).
fn signs_in(line: &str) -> bool {
    matches!(
        protocolo::parse_command(line),
        Ok(Some(Command::Login { .. } | Command::Register { .. }))
    )
}

/// `datagram` rellenado con espacios hasta [`UNPROVEN_DATAGRAM_BYTES`]
/// (contando su `\n`): lo que se envía a una dirección sin probar.
fn padded(mut datagram: String) -> String {
    let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
    datagram.push_str(&" ".repeat(pad));
    datagram
}

impl Shared {
    /// Modo `--udp` sin `--reliable`, llamado cada tanto por el receptor:
    /// tras el `:q` (escrito, o el del fin de la entrada), si la despedida
    /// no llegó en [`QUIT_RETRY`], el `:q` sale otra vez. El `:q` o la
    /// despedida pudieron perderse; si el servidor ya cerró la sesión, la
    /// respuesta es "token desconocido", que el receptor toma como la
    /// despedida. El modo confiable no lo necesita: retransmite solo.
    pub(crate) fn repeat_quit(&self, udp: &UdpSocket) {
        let token = {
            let state = self.lock();
            if self.reliable.is_some()
                || !state.input_done
                || state.said_goodbye
                || state.closed
                || state.last_udp_send.elapsed() < QUIT_RETRY
            {
                return;
            }
            let Some(token) = state.token.clone() else {
                return;
            };
            token
        };
        // Relleno, como una sonda: si el servidor ya cerró la sesión, su
        // "token desconocido" va a una dirección que ya no está probada, y
        // tiene que caber en el triple de lo que recibió.
        self.lock().last_udp_send = Instant::now();
        let datagram = padded(format!("{token} :q"));
        let _ = self.transmit(udp, format!("{datagram}\n").as_bytes());
    }
}

/// El final que anuncia un aviso del servidor, si anuncia uno: el servidor
/// lo envía justo antes de cerrar.
fn ending_after(event: &Event) -> Option<Ending> {
    match event {
        Event::ShuttingDown => Some(Ending::ShuttingDown),
        Event::SigninTimeout(_) => Some(Ending::SigninDeadline),
        Event::ServerFull | Event::TooManyFromAddress => Some(Ending::ServerFull),
        Event::TooManyFailures => Some(Ending::TooManyFailures),
        Event::Replaced => Some(Ending::Replaced),
        _ => None,
    }
}

/// Por dónde sale una línea del usuario.
pub(crate) enum Wire {
    Tcp(TcpStream),
    Udp,
}

/// El esqueleto de los modos TCP y UDP (enunciado 000: un hilo envía, otro
/// recibe): el emisor en un hilo propio, el receptor (`receive`) en este,
/// y al terminar, el cierre y las cuentas del laboratorio. Al emisor no se
/// lo espera: puede estar bloqueado leyendo el teclado. Error: no se pudo
/// crear el hilo.
pub(crate) fn converse(
    shared: &Arc<Shared>,
    input: impl Iterator<Item = String> + Send + 'static,
    wire: Wire,
    receive: impl FnOnce(),
) -> io::Result<()> {
    let sender = Arc::clone(shared);
    thread::Builder::new()
        .name("sender".into())
        .spawn(move || send_lines(input, wire, &sender))?;
    receive();
    shared.close();
    shared.link.finish(shared.screen.as_ref());
    if let Some(reliable) = &shared.reliable {
        reliable.finish(shared.screen.as_ref());
    }
    Ok(())
}

/// El hilo emisor: cada línea de `input` va al servidor; al terminar la
/// entrada, envía `:q`.
fn send_lines(input: impl Iterator<Item = String>, mut wire: Wire, shared: &Shared) {
    if matches!(wire, Wire::Tcp(_)) {
        // Primero el saludo del servidor: si no, se lo contaría como la
        // respuesta a la primera línea. (UDP no saluda: no hay conexión.)
        shared.wait_for_reply(0);
    }
    for line in input {
        match send_line(&line, &mut wire, shared) {
            Next::Line => {}
            Next::Done => return stop_reading(shared),
            Next::Broken => break,
        }
    }
    end_of_input(wire, shared);
}

/// Ya se envió `:q` (o la sesión terminó): no se lee más, y el receptor
/// espera la despedida con su plazo, como al terminar la entrada. Sin
/// esto, un `:q` escrito cuya respuesta se pierde esperaría para siempre.
fn stop_reading(shared: &Shared) {
    shared.lock().input_done = true;
    shared.changed.notify_all();
}

/// Qué hacer tras enviar una línea.
enum Next {
    Line,
    /// Ya se envió `:q`, o el servidor se despidió.
    Done,
    /// No se pudo enviar: la conexión se cortó.
    Broken,
}

/// Envía una línea del usuario por donde corresponda y, antes de entrar a
/// la sala, espera su respuesta.
fn send_line(line: &str, wire: &mut Wire, shared: &Shared) -> Next {
    if let Wire::Tcp(_) = wire
        && let Some(by_udp) = transport_switch(line)
    {
        switch_transport(shared, by_udp);
        return Next::Line;
    }
    let parsed = protocolo::parse_command(line);
    let quitting = parsed == Ok(Some(Command::Quit));
    let (entry, before, token, udp) = {
        let mut state = shared.lock();
        if state.closed || state.said_goodbye {
            return Next::Done;
        }
        if let Ok(Some(Command::Login { name, .. } | Command::Register { name, .. })) = &parsed {
            state.name = Some(name.clone());
        }
        // `:q` cierra la sesión TCP por TCP aunque las líneas viajen por UDP.
        let by_udp = matches!(wire, Wire::Udp) || (state.lines_by_udp && !quitting);
        let udp = state.udp.clone().filter(|_| by_udp);
        state.sent_by_udp |= udp.is_some() && matches!(wire, Wire::Tcp(_));
        (state.entry, state.replies, state.token.clone(), udp)
    };
    if quitting && matches!(wire, Wire::Tcp(_)) {
        shared.drain_udp();
    }
    if entry == Entry::Joined {
        echo_own_line(shared.screen.as_ref(), &parsed);
    }
    let sent = match (&mut *wire, &udp) {
        (_, Some(udp)) => shared.send_datagram(udp, token.as_deref(), line),
        (Wire::Tcp(stream), None) => {
            if parsed == Ok(Some(Command::Ping)) {
                shared.lock().pings += 1;
            }
            stream.write_all(format!("{line}\n").as_bytes())
        }
        (Wire::Udp, None) => Ok(()),
    };
    match sent {
        Err(_) => Next::Broken,
        Ok(()) if quitting => Next::Done,
        // Antes de entrar a la sala, cada línea no vacía tiene respuesta: se
        // espera para que la siguiente se interprete en la etapa correcta.
        Ok(()) if entry != Entry::Joined && !line.trim().is_empty() => {
            await_reply(shared, wire, line, udp.as_deref(), before)
        }
        Ok(()) => Next::Line,
    }
}

/// Espera la respuesta a una línea enviada antes de entrar a la sala (la
/// que había `before` respuestas). Por UDP, si nunca llega, la sesión
/// termina: [`Next::Done`].
fn await_reply(
    shared: &Shared,
    wire: &Wire,
    line: &str,
    udp: Option<&UdpSocket>,
    before: u64,
) -> Next {
    match (wire, udp) {
        (Wire::Udp, Some(udp)) if !shared.wait_for_udp_reply(line, before, udp) => Next::Done,
        (Wire::Udp, _) => Next::Line,
        (Wire::Tcp(_), _) => {
            shared.wait_for_reply(before);
            Next::Line
        }
    }
}

/// Fin de la entrada: igual que `:q`.
fn end_of_input(wire: Wire, shared: &Shared) {
    let (token, udp) = {
        let mut state = shared.lock();
        state.input_done = true;
        (state.token.clone(), state.udp.clone())
    };
    shared.changed.notify_all();
    match (wire, udp, token) {
        (Wire::Tcp(mut stream), _, _) => {
            shared.drain_udp();
            // Cerrar el sentido de escritura avisa al servidor aun si ya no lee.
            let _ = stream.write_all(b":q\n");
            let _ = stream.shutdown(Shutdown::Write);
        }
        (Wire::Udp, Some(udp), Some(token)) => {
            let _ = shared.send_datagram(&udp, Some(&token), ":q");
        }
        (Wire::Udp, _, _) => {}
    }
}

/// `:udp` o `:tcp` (solo del cliente, no se envían): `Some(true)` = por UDP.
pub(crate) fn transport_switch(line: &str) -> Option<bool> {
    match line.trim() {
        ":udp" => Some(true),
        ":tcp" => Some(false),
        _ => None,
    }
}

fn switch_transport(shared: &Shared, by_udp: bool) {
    let mut state = shared.lock();
    let shown = if by_udp && state.udp.is_none() {
        Shown::UdpNotReady
    } else {
        state.lines_by_udp = by_udp;
        Shown::Travel(by_udp)
    };
    // El `:ping` que presentó la dirección UDP sigue sin respuesta.
    let silent = by_udp && state.udp.is_some() && state.pongs < state.pings;
    drop(state);
    shared.screen.show(shown);
    if silent {
        shared.screen.show(Shown::UdpSilent);
    }
}

fn echo_own_line(screen: &dyn Screen, parsed: &Result<Option<Command>, protocolo::Problem>) {
    let (to, text) = match parsed {
        Ok(Some(Command::Public(text))) => (None, text),
        Ok(Some(Command::Private { to, text })) => (Some(to.clone()), text),
        // Un comando no es un mensaje: lo que se muestra es su respuesta.
        _ => return,
    };
    let text = protocolo::render_text(text);
    if !text.is_empty() {
        screen.show(Shown::Own { to, text });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Un `Screen` que no muestra nada.
    struct Blind;

    impl Screen for Blind {
        fn show(&self, _: Shown) {}
    }

    /// El aviso de apagado llega por TCP y por UDP, cada copia en su hilo:
    /// aunque las dos decidan si se muestran antes de que ninguna cambie el
    /// estado, se muestra una sola.
    #[test]
    fn a_notice_that_arrives_twice_at_once_is_shown_once() {
        let shared = Shared::new(
            Arc::new(Blind),
            "127.0.0.1:1".parse().expect("addr"),
            None,
            Duration::from_secs(60),
            Plugins::default(),
        );
        let notice = Some(Event::ShuttingDown);
        let (first, _) = shared.before_showing(&notice);
        let (second, _) = shared.before_showing(&notice);
        shared.update(&notice);
        shared.update(&notice);
        assert_eq!([first, second], [false, true], "ocultas");
        assert_eq!(shared.ending(), Ending::ShuttingDown);
    }

    /// En modo TCP, la primera línea que sale por UDP a una dirección sin
    /// probar, si es un mensaje (que no recibe respuesta), va detrás de un
    /// `:ping`: la sonda siempre recibe respuesta, del servidor del curso o
    /// del completo (la cookie). Antes, el mensaje era la sonda, y con el
    /// servidor del curso lo que esperaba detrás no salía nunca.
    #[test]
    fn a_message_never_goes_first_to_an_unproven_address() {
        let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = server.local_addr().expect("addr");
        let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
        client.connect(addr).expect("connect");
        let keepalive = Duration::from_secs(60);
        let shared = Shared::new(Arc::new(Blind), addr, None, keepalive, Plugins::default());
        shared
            .send_datagram(&client, Some("T0KEN"), "uno")
            .expect("send");
        shared
            .send_datagram(&client, Some("T0KEN"), "dos")
            .expect("send");
        client.send(b"marca").expect("send");
        server
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut buffer = [0u8; 512];
        let mut next = || {
            let n = server.recv(&mut buffer).expect("recv");
            String::from_utf8_lossy(&buffer[..n]).trim_end().to_string()
        };
        assert_eq!(next(), "T0KEN :ping", "la sonda");
        assert_eq!(
            next(),
            "marca",
            "uno y dos esperan a que la sonda tenga respuesta"
        );
        let state = shared.lock();
        assert_eq!(
            (state.pings, state.auto_pings),
            (1, 1),
            "su pong no se muestra"
        );
        let waiting: Vec<&str> = state.unproven.iter().map(|d| d.trim_end()).collect();
        assert_eq!(waiting, ["T0KEN :ping", "T0KEN uno", "T0KEN dos"]);
    }

    #[test]
    fn transport_switches_are_local_commands() {
        assert_eq!(transport_switch(":udp"), Some(true));
        assert_eq!(transport_switch(" :tcp "), Some(false));
        assert_eq!(transport_switch(":udp hola"), None);
        assert_eq!(transport_switch("udp"), None);
    }
}
