//! Qué hace el servidor con cada línea de un cliente: las acciones del chat
//! ([`Chat`]) y la sesión de una conexión TCP ([`Session`]), que recuerda en
//! qué etapa está (sin sesión, esperando el saldo, en la sala).
//!
//! Une las piezas puras: `protocolo` dice qué pidió el cliente, `ledger`
//! aplica las reglas del dinero, `room` dice a quién entregar, y cada
//! respuesta o aviso sale por una [`Output`]. Las mismas acciones sirven a
//! TCP y a UDP (el lado UDP, con sus tokens, está en `udp`). No lee sockets
//! ni crea hilos: eso es de `servidor` y `udp`, así que todo esto se prueba
//! sin red.

use crate::curso::ledger::Transfer;
use crate::curso::protocolo::{self, Command, Event, Problem};
use crate::curso::room::{Presence, Via};
use crate::curso::seams::{Output, Place};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::curso::console::Console;

mod chat;
pub use chat::{Chat, SignedIn};

/// Las respuestas a un cliente, en el orden de sus líneas, con la regla de
/// durabilidad escrita una sola vez (enunciado 005: nada de lo confirmado
/// se pierde): la confirmación de una `:t` sale solo cuando **su** línea
/// del diario está en disco, y ninguna respuesta posterior la adelanta.
///
/// Las `:t` seguidas quedan en `waiting` para compartir un `fdatasync`
/// (el *group commit* del libro). Las sueltan, en este orden de
/// confirmación: cualquier otra respuesta ([`Replies::send`]), cualquier
/// línea que no sea `:t` (el paso de [`Chat::signed_line`]: así ni un
/// mensaje a la sala adelanta el aviso de una transferencia anterior), y
/// el transporte antes de esperar más datos del cliente
/// ([`Replies::settle`]). Lo usan TCP y UDP por igual.
pub struct Replies {
    output: Arc<dyn Output>,
    /// Transferencias aplicadas en memoria que esperan su `fdatasync`.
    waiting: Vec<Transfer>,
}

impl Replies {
    /// Las respuestas que salen por `output`, todavía sin nada pendiente.
    pub fn new(output: Arc<dyn Output>) -> Replies {
        Replies {
            output,
            waiting: Vec::new(),
        }
    }

    /// La cola por la que salen (para reservar la cuenta en la sala).
    pub fn output(&self) -> &Arc<dyn Output> {
        &self.output
    }

    /// Responde `event`, después de confirmar lo pendiente.
    pub fn send(&mut self, chat: &Chat, event: &Event) {
        self.settle(chat);
        chat.send(&self.output, event);
    }

    /// Deja `transfer` esperando su confirmación.
    fn defer(&mut self, transfer: Transfer) {
        self.waiting.push(transfer);
    }

    /// Espera el recibo de **cada** transferencia pendiente (la primera
    /// espera suele hacer el único `fdatasync` que las cubre a todas, y las
    /// demás ya lo encuentran lleno) y recién entonces confirma cada una y
    /// avisa a su destinatario. Si el disco falló, las que no llegaron a
    /// disco ya se deshicieron y reciben el error de almacenamiento. Que la
    /// última esté en disco no dice nada de las anteriores: una vuelta
    /// fallida pudo deshacerlas antes de que una buena escribiera la última.
    pub fn settle(&mut self, chat: &Chat) {
        for done in self.waiting.drain(..) {
            match chat.ledger.wait_durable(&done.receipt) {
                Ok(()) => chat.transferred(&done, &self.output),
                Err(error) => chat.send(&self.output, &Event::Error(chat.storage_failed(&error))),
            }
        }
    }
}

/// Si la conexión sigue tras una línea.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Seguir leyendo.
    Continue,
    /// El cliente pidió salir (`:q`): cerrar.
    Close,
}

/// En qué etapa está un usuario que ya inició sesión: la misma para TCP y
/// para UDP (el lado UDP la lee de la sala; la conexión TCP la recuerda).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Entró, pero todavía no respondió "What is your balance?".
    AwaitingBalance,
    /// Está en la sala: sus líneas son mensajes y comandos.
    InRoom,
}

impl Stage {
    /// La etapa de quien está (`true`) o no en la sala.
    pub fn of(joined: bool) -> Stage {
        if joined {
            Stage::InRoom
        } else {
            Stage::AwaitingBalance
        }
    }
}

/// Un `:register` o un `:login`: lo único que se atiende antes de iniciar
/// sesión (enunciado 005, punto 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// El nombre, tal como lo escribió.
    pub name: String,
    /// La contraseña.
    pub password: String,
    /// `true` para `:register` (cuenta nueva), `false` para `:login`.
    pub register: bool,
}

/// Qué hacer con una línea de quien todavía no inició sesión (la etapa
/// anónima): ver [`before_sign_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anonymous {
    /// Una línea vacía: nada.
    Ignore,
    /// Se responde esto y nada más.
    Answer(Event),
    /// Un intento de entrada.
    SignIn(Credentials),
}

/// La etapa anónima, la misma tabla para TCP y UDP: `:help` se responde,
/// `:register` y `:login` se atienden, un error de sintaxis se dice, y
/// cualquier otra cosa se rechaza. Lo único que cambia con el transporte
/// (`via`): por TCP la conexión ya es de alguien, así que `:ping` tiene su
/// `pong` y lo demás recibe "You are not signed in"; por UDP un datagrama
/// sin token no es de nadie, y la respuesta es que falta el token.
pub fn before_sign_in(parsed: Result<Option<Command>, Problem>, via: Via) -> Anonymous {
    let credentials = |name, password, register| {
        Anonymous::SignIn(Credentials {
            name,
            password,
            register,
        })
    };
    match parsed {
        Ok(None) => Anonymous::Ignore,
        Ok(Some(Command::Help)) => Anonymous::Answer(Event::Help(String::new())),
        Ok(Some(Command::Register { name, password })) => credentials(name, password, true),
        Ok(Some(Command::Login { name, password })) => credentials(name, password, false),
        Ok(Some(Command::Ping)) if via == Via::Tcp => Anonymous::Answer(Event::Pong),
        Ok(Some(_)) => Anonymous::Answer(Event::Error(match via {
            Via::Tcp => Problem::NotSignedIn,
            Via::Udp => Problem::BadToken,
        })),
        Err(problem) => Anonymous::Answer(Event::Error(problem)),
    }
}

/// Quién habla: su nombre y el transporte por el que llegó la línea (la
/// regla del relay TCP+UDP: ver [`Via`]).
#[derive(Clone, Copy)]
pub struct Speaker<'a> {
    /// El nombre con que inició sesión.
    pub name: &'a str,
    /// Por dónde llegó la línea.
    pub via: Via,
}

/// Quién es una conexión TCP: todavía nadie, o una cuenta en una etapa
/// (que no existe antes de entrar).
enum Standing {
    /// Todavía no inició sesión.
    Anonymous,
    /// Inició sesión; una vez en la sala, no sale hasta cerrar la sesión.
    Signed { signed: SignedIn, stage: Stage },
}

/// La sesión de una conexión TCP.
pub struct Session {
    standing: Standing,
    /// Su lugar entre las conexiones admitidas, con sus límites (ver
    /// [`Place`]); se libera al terminar la sesión.
    place: Box<dyn Place>,
    /// Sus respuestas, con las `:t` que esperan al disco.
    replies: Replies,
    /// Cómo se ve el cliente en la consola: `127.0.0.1:51234 (TCP)`.
    peer: String,
    /// La dirección IP del cliente, para el límite de contraseñas fallidas.
    ip: IpAddr,
}

impl Session {
    /// Una sesión nueva para la conexión cuya salida es `output`; `peer`
    /// describe al cliente en la consola (dirección, puerto y transporte) e
    /// `ip` es su dirección, y `place`, su lugar entre las conexiones
    /// admitidas. Envía la primera línea: cómo iniciar sesión
    /// ([`Guard::prompt`](crate::curso::seams::Guard::prompt)).
    pub fn start(
        chat: &Chat,
        output: Arc<dyn Output>,
        peer: String,
        ip: IpAddr,
        place: Box<dyn Place>,
    ) -> Session {
        chat.send(&output, &chat.guard.prompt());
        Session {
            standing: Standing::Anonymous,
            place,
            replies: Replies::new(output),
            peer,
            ip,
        }
    }

    /// Una línea que llegó en `now` (completa, o descartada por larga):
    /// cuánto debe esperar el hilo **antes** de atenderla (`None`: ya; en
    /// el curso, siempre). Si hay que esperar, antes se confirma lo
    /// pendiente (no hace falta que espere también quien ya tiene su `:t`
    /// en disco), y se dice lo que el lugar pide decir. `:q` nunca espera:
    /// salir no es inundar.
    pub fn pace(&mut self, chat: &Chat, bytes: &[u8], now: Instant) -> Option<Duration> {
        if bytes.trim_ascii() == b":q" {
            return None;
        }
        let pace = self.place.before_line(now)?;
        self.replies.settle(chat);
        if let Some((notice, line)) = pace.first {
            self.replies.send(chat, &notice);
            chat.log(&line);
        }
        Some(pace.wait)
    }

    /// Responde un error a este cliente (después de lo pendiente).
    fn reject(&mut self, chat: &Chat, problem: Problem) {
        self.replies.send(chat, &Event::Error(problem));
    }

    /// Una línea que el marco descartó por pasar de `MAX_LINE_BYTES`: recibe
    /// [`Problem::LineTooLong`] (y cuenta para el límite de líneas por
    /// segundo como cualquier otra: ver [`Session::pace`]).
    pub fn too_long(&mut self, chat: &Chat) -> Flow {
        self.reject(chat, Problem::LineTooLong);
        Flow::Continue
    }

    /// Atiende una línea completa del cliente (sin `\n`), tal como llegó del
    /// socket. Una línea que no es UTF-8 recibe [`Problem::InvalidUtf8`].
    ///
    /// Una transferencia (`:t`) se aplica pero su respuesta queda pendiente
    /// (ver [`Replies`]), para que varias seguidas compartan un `fdatasync`:
    /// quien llama debe llamar a [`Session::settle`] antes de esperar más
    /// datos del socket.
    pub fn handle(&mut self, chat: &Chat, bytes: &[u8]) -> Flow {
        chat.observer.line_in();
        let Ok(line) = std::str::from_utf8(bytes) else {
            self.reject(chat, Problem::InvalidUtf8);
            return Flow::Continue;
        };
        let parsed = protocolo::parse_command(line);
        if parsed == Ok(Some(Command::Quit)) {
            return self.quit(chat);
        }
        let Standing::Signed { signed, stage } = &mut self.standing else {
            return self.anonymous(chat, parsed);
        };
        let me = Speaker {
            name: &signed.name,
            via: Via::Tcp,
        };
        *stage = chat.signed_line(me, *stage, line, parsed, &mut self.replies);
        Flow::Continue
    }

    /// Espera al disco por las transferencias pendientes de esta sesión y
    /// envía sus confirmaciones (ver [`Replies::settle`]).
    pub fn settle(&mut self, chat: &Chat) {
        self.replies.settle(chat);
    }

    /// Una línea antes de iniciar sesión (la tabla de [`before_sign_in`]).
    /// Si el lugar lo pide tras un intento fallido, avisa y devuelve
    /// [`Flow::Close`].
    fn anonymous(&mut self, chat: &Chat, parsed: Result<Option<Command>, Problem>) -> Flow {
        let credentials = match before_sign_in(parsed, Via::Tcp) {
            Anonymous::Ignore => return Flow::Continue,
            Anonymous::Answer(event) => {
                self.replies.send(chat, &event);
                return Flow::Continue;
            }
            Anonymous::SignIn(credentials) => credentials,
        };
        let presence = || Presence::Tcp(Arc::clone(self.replies.output()));
        match chat.sign_in(&credentials, presence, &self.peer, self.ip, true) {
            Ok(signed) => {
                self.place.signed_in(&signed.name);
                let token = Event::UdpToken(signed.token.clone());
                let stage = Stage::of(chat.welcome(&signed, &mut self.replies, token));
                self.standing = Standing::Signed { signed, stage };
                Flow::Continue
            }
            Err(problem) => self.failed_sign_in(chat, problem),
        }
    }

    /// Responde un intento de entrada rechazado, y se lo cuenta al lugar
    /// de la conexión (ver [`Place::failed_sign_in`]).
    fn failed_sign_in(&mut self, chat: &Chat, problem: Problem) -> Flow {
        let closing = self.place.failed_sign_in(&problem);
        self.reject(chat, problem);
        let Some((notice, line)) = closing else {
            return Flow::Continue;
        };
        self.replies.send(chat, &notice);
        chat.log(&line);
        Flow::Close
    }

    /// `:q`: primero libera la cuenta y avisa a los demás, y recién después
    /// se despide. Así, quien recibe la despedida ya puede volver a entrar
    /// con la misma cuenta desde otra conexión.
    fn quit(&mut self, chat: &Chat) -> Flow {
        self.replies.settle(chat);
        self.leave(chat);
        self.replies.send(chat, &Event::Goodbye);
        Flow::Close
    }

    /// Libera la cuenta, si la hay (una sola vez: la conexión queda como
    /// antes de entrar, y se cierra).
    fn leave(&mut self, chat: &Chat) {
        let before = Standing::Anonymous;
        if let Standing::Signed { signed, .. } = std::mem::replace(&mut self.standing, before) {
            chat.leave(&signed.token);
        }
    }

    /// Cierra la sesión porque la conexión terminó (tras `:q`, o porque se
    /// cortó): libera la cuenta y, si estaba en la sala, avisa a los demás y
    /// a la consola. Devuelve el lugar de la conexión, para que quien
    /// llama lo suelte cuando termine de despedirse.
    pub fn end(mut self, chat: &Chat) -> Box<dyn Place> {
        self.settle(chat);
        self.leave(chat);
        self.place
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curso::ledger::Ledger;
    use crate::curso::output::Memory;
    use crate::curso::password::HashCost;
    use std::sync::Mutex;

    struct Fixture {
        chat: Chat,
        console: Arc<Mutex<Vec<String>>>,
        _dir: tempfile::TempDir,
    }

    struct Peer {
        session: Session,
        output: Arc<Memory>,
        seen: usize,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let ledger = Ledger::open(dir.path(), HashCost::Minimal).expect("ledger");
            let console = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&console);
            let chat = Chat::new(
                ledger,
                Arc::new(crate::curso::seams::Open),
                Box::new(move |line: &str| sink.lock().expect("lock").push(line.to_string())),
                Arc::new(crate::curso::seams::Unobserved),
            );
            Fixture {
                chat,
                console,
                _dir: dir,
            }
        }

        fn connect(&self) -> Peer {
            let output = Arc::new(Memory::default());
            self.connect_with(Arc::clone(&output) as Arc<dyn Output>, output)
        }

        /// Un cliente cuya salida es `output`, que escribe en `memory`.
        fn connect_with(&self, output: Arc<dyn Output>, memory: Arc<Memory>) -> Peer {
            let mut peer = Peer {
                session: Session::start(
                    &self.chat,
                    output,
                    "test".into(),
                    IpAddr::from([127, 0, 0, 1]),
                    Box::new(()),
                ),
                output: memory,
                seen: 0,
            };
            assert_eq!(peer.lines(), [Event::Prompt.to_string()]);
            peer
        }

        fn joined(&self, name: &str, dollars: u64) -> Peer {
            let mut peer = self.connect();
            peer.send(self, &format!(":register {name} pw"));
            peer.send(self, &dollars.to_string());
            peer.lines();
            peer
        }
    }

    impl Peer {
        fn send(&mut self, fixture: &Fixture, line: &str) -> Flow {
            let flow = self.session.handle(&fixture.chat, line.as_bytes());
            self.session.settle(&fixture.chat);
            flow
        }

        /// Las líneas recibidas desde la última llamada.
        fn lines(&mut self) -> Vec<String> {
            let text = self.output.text();
            let all: Vec<String> = text.lines().map(str::to_string).collect();
            let new = all[self.seen..].to_vec();
            self.seen = all.len();
            new
        }
    }

    /// Una salida en memoria que, además, llama a `hook` con cada línea.
    struct Hooked<F> {
        memory: Arc<Memory>,
        hook: F,
    }

    impl<F: Fn(&[u8]) + Send + Sync> Output for Hooked<F> {
        fn send(&self, line: &[u8]) {
            self.memory.send(line);
            (self.hook)(line);
        }

        fn is_closed(&self) -> bool {
            self.memory.is_closed()
        }

        fn finish(&self, grace: Duration) {
            self.memory.finish(grace);
        }
    }

    /// Quien recibe la confirmación de su saldo ya está en la sala: si otro
    /// entra justo después, se entera. Aquí alice entra (en otro hilo) en
    /// el instante en que sale la confirmación de bob, y bob debe ver
    /// `alice connected!`. Con la confirmación enviada antes de unir a bob,
    /// alice elegía a quién avisar sin él, y bob no se enteraba nunca.
    #[test]
    fn whoever_reads_the_confirmation_of_their_balance_is_already_in_the_room() {
        let f = Fixture::new();
        let mut alice = f.connect();
        alice.send(&f, ":register alice pw");
        let (confirmed, bob_confirmed) = std::sync::mpsc::channel::<()>();
        let (alice_in, alice_joined) = std::sync::mpsc::channel::<()>();
        let alice_joined = Mutex::new(alice_joined);
        let hook = move |line: &[u8]| {
            if line.starts_with(b"[SERVER] Client: The balance of 10") {
                let _ = confirmed.send(());
                // Bien hecho, alice espera al candado de la sala, que bob
                // tiene hasta unirse, y esta espera vence sin ella.
                let waiting = crate::curso::sync::lock(&alice_joined);
                let _ = waiting.recv_timeout(Duration::from_secs(1));
            }
        };
        let memory = Arc::new(Memory::default());
        let output = Arc::new(Hooked {
            memory: Arc::clone(&memory),
            hook,
        });
        let mut bob = f.connect_with(output, memory);
        bob.send(&f, ":register bob pw");
        bob.lines();
        let fixture = &f;
        let alice = &mut alice;
        std::thread::scope(|s| {
            s.spawn(move || {
                if bob_confirmed.recv_timeout(Duration::from_secs(60)).is_ok() {
                    alice.send(fixture, "5");
                    let _ = alice_in.send(());
                }
            });
            bob.send(&f, "10");
        });
        assert_eq!(
            bob.lines(),
            [
                "[SERVER] Client: The balance of 10 has been set to your account.",
                "[SERVER] Client: alice connected!"
            ]
        );
    }

    #[test]
    fn register_asks_the_balance_and_then_joins() {
        let f = Fixture::new();
        let mut bob = f.joined("bob", 10);
        let mut alice = f.connect();
        alice.send(&f, ":register alice pw");
        let lines = alice.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "Welcome to the best chat in the universe!");
        assert!(
            matches!(Event::parse(&lines[1]), Some(Event::UdpToken(_))),
            "{lines:?}"
        );
        assert_eq!(lines[2], "[SERVER] Client: What is your balance?");
        assert!(bob.lines().is_empty(), "bob no debe verla antes del saldo");
        alice.send(&f, "mucho");
        assert_eq!(
            alice.lines(),
            [
                Event::Error(Problem::BadBalance).to_string(),
                Event::AskBalance.to_string()
            ]
        );
        alice.send(&f, "50000");
        assert_eq!(
            alice.lines(),
            ["[SERVER] Client: The balance of 50000 has been set to your account."]
        );
        assert_eq!(bob.lines(), ["[SERVER] Client: alice connected!"]);
        assert!(
            f.console
                .lock()
                .expect("lock")
                .contains(&"[SERVER] Client: alice connected!".to_string())
        );
    }

    #[test]
    fn chat_commands_reach_the_right_people() {
        let f = Fixture::new();
        let mut alice = f.joined("alice", 3000);
        let mut bob = f.joined("bob", 500);
        let mut carol = f.joined("carol", 0);
        alice.lines();
        bob.lines();
        alice.send(&f, "hola :smile");
        assert!(alice.lines().is_empty(), "el emisor no recibe su mensaje");
        assert_eq!(bob.lines(), ["alice: hola :~)"]);
        assert_eq!(carol.lines(), ["alice: hola :~)"]);
        alice.send(&f, ":p - bob - secreto");
        assert_eq!(bob.lines(), ["[PRIVATE] alice: secreto"]);
        assert!(carol.lines().is_empty());
        alice.send(&f, ":t - bob - 100");
        assert_eq!(
            alice.lines(),
            ["[SERVER] Client: You transferred 100 dollars to bob. You have 2900 dollars."]
        );
        assert_eq!(
            bob.lines(),
            ["[SERVER] Client: alice transferred 100 dollars to you. You have 600 dollars."]
        );
        carol.send(&f, ":t alice 1");
        assert_eq!(
            carol.lines(),
            ["[SERVER] Client: You don't have sufficient funds for the transaction."]
        );
        carol.send(&f, ":u");
        assert_eq!(
            carol.lines(),
            ["[SERVER] Client: Connected users: alice, bob, carol"]
        );
        assert_eq!(bob.send(&f, ":q"), Flow::Close);
        assert_eq!(bob.lines(), [Event::Goodbye.to_string()]);
        // El aviso sale antes de la despedida, sin esperar al cierre.
        assert_eq!(alice.lines(), ["[SERVER] Client: bob disconnected!"]);
        bob.session.end(&f.chat);
        assert!(alice.lines().is_empty(), "un solo aviso de salida");
        alice.send(&f, ":p bob hola");
        assert_eq!(alice.lines(), ["[SERVER] Client: bob is not connected."]);
    }

    /// La etapa anónima es una tabla, la misma para los dos transportes,
    /// salvo `:ping` y el error de lo que no es entrar.
    #[test]
    fn the_anonymous_stage_is_one_table_for_both_transports() {
        let table = |line: &str, via| before_sign_in(protocolo::parse_command(line), via);
        for via in [Via::Tcp, Via::Udp] {
            assert_eq!(table("", via), Anonymous::Ignore);
            assert_eq!(
                table(":help", via),
                Anonymous::Answer(Event::Help(String::new()))
            );
            assert_eq!(
                table(":register ana clave", via),
                Anonymous::SignIn(Credentials {
                    name: "ana".into(),
                    password: "clave".into(),
                    register: true
                })
            );
            assert!(matches!(
                table(":login ana clave", via),
                Anonymous::SignIn(Credentials {
                    register: false,
                    ..
                })
            ));
            assert!(matches!(
                table(":t", via),
                Anonymous::Answer(Event::Error(Problem::Usage(_)))
            ));
        }
        assert_eq!(table(":ping", Via::Tcp), Anonymous::Answer(Event::Pong));
        for line in [":ping", "hola", ":u"] {
            let refused = |problem| Anonymous::Answer(Event::Error(problem));
            assert_eq!(table(line, Via::Udp), refused(Problem::BadToken));
        }
        assert_eq!(
            table("hola", Via::Tcp),
            Anonymous::Answer(Event::Error(Problem::NotSignedIn))
        );
    }

    /// Una tanda `:t`, mensaje, `:t`: bob ve el aviso de la primera antes
    /// que el mensaje (una línea que no es `:t` confirma lo pendiente), y
    /// alice recibe las dos confirmaciones en orden.
    #[test]
    fn a_message_does_not_overtake_an_earlier_transfer() {
        let f = Fixture::new();
        let mut alice = f.joined("alice", 100);
        let mut bob = f.joined("bob", 0);
        alice.lines();
        for line in [":t bob 5", "hola", ":t bob 7"] {
            alice.session.handle(&f.chat, line.as_bytes());
        }
        assert_eq!(
            bob.lines(),
            [
                "[SERVER] Client: alice transferred 5 dollars to you. You have 5 dollars.",
                "alice: hola"
            ],
            "la segunda :t espera al final de la tanda"
        );
        alice.session.settle(&f.chat);
        assert_eq!(
            alice.lines(),
            [
                "[SERVER] Client: You transferred 5 dollars to bob. You have 95 dollars.",
                "[SERVER] Client: You transferred 7 dollars to bob. You have 88 dollars."
            ]
        );
        assert_eq!(
            bob.lines(),
            ["[SERVER] Client: alice transferred 7 dollars to you. You have 12 dollars."]
        );
    }

    #[test]
    fn nothing_but_sign_in_before_signing_in() {
        let f = Fixture::new();
        let mut anon = f.connect();
        for line in ["hola", ":u", ":funds", ":t bob 1", ":p bob hola"] {
            anon.send(&f, line);
            assert_eq!(
                anon.lines(),
                [Event::Error(Problem::NotSignedIn).to_string()]
            );
        }
        anon.send(&f, "");
        assert!(anon.lines().is_empty());
        anon.send(&f, ":help");
        assert_eq!(anon.lines(), [Event::Help(String::new()).to_string()]);
        anon.session.handle(&f.chat, b"\xff\xfe");
        assert_eq!(
            anon.lines(),
            [Event::Error(Problem::InvalidUtf8).to_string()]
        );
    }

    #[test]
    fn one_session_per_account() {
        let f = Fixture::new();
        let _alice = f.joined("alice", 1);
        let mut again = f.connect();
        again.send(&f, ":login ALICE pw");
        assert_eq!(
            again.lines(),
            ["[SERVER] Client: alice is already connected."]
        );
        again.send(&f, ":login alice wrong");
        assert_eq!(again.lines(), ["[SERVER] Client: Wrong name or password."]);
        again.send(&f, ":login nobody pw");
        assert_eq!(again.lines(), ["[SERVER] Client: Wrong name or password."]);
        again.send(&f, ":register Alice pw");
        assert_eq!(
            again.lines(),
            ["[SERVER] Client: The name Alice is already taken."]
        );
    }
}
