//! La sesión de un cliente: qué hace el servidor con cada línea que llega,
//! según en qué etapa está esa conexión (sin sesión, esperando el saldo, en
//! la sala).
//!
//! Une las piezas puras: `protocolo` dice qué pidió el cliente, `ledger`
//! aplica las reglas del dinero, `room` dice a quién entregar, y cada
//! respuesta o aviso sale por una [`Outbox`]. No lee sockets ni crea hilos:
//! eso es de `servidor`, así que todo esto se prueba sin red.

use crate::ledger::{Ledger, LedgerError};
use crate::outbox::Outbox;
use crate::protocolo::{self, Command, Event, Problem};
use crate::room::Room;
use std::sync::Arc;

/// Dónde escribe el servidor sus líneas de consola (la salida estándar en el
/// programa; un vector en las pruebas).
pub type Console = Box<dyn Fn(&str) + Send + Sync>;

/// El estado compartido por todos los hilos del servidor.
pub struct Chat {
    /// Cuentas y saldos.
    pub ledger: Ledger,
    /// Quién está conectado.
    pub room: Room,
    console: Console,
}

impl Chat {
    /// Une el libro de cuentas con una sala vacía y una consola.
    pub fn new(ledger: Ledger, console: Console) -> Chat {
        Chat {
            ledger,
            room: Room::new(),
            console,
        }
    }

    /// Escribe una línea en la consola del servidor.
    pub fn log(&self, line: &str) {
        (self.console)(line);
    }
}

/// Si la conexión sigue tras una línea.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Seguir leyendo.
    Continue,
    /// El cliente pidió salir (`:q`): despedirse y cerrar.
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Recién conectado: solo `:register`, `:login`, `:help` y `:q`.
    Anonymous,
    /// Cuenta reservada, esperando la respuesta a "What is your balance?".
    AwaitingBalance { name: String },
    /// En la sala.
    Joined { name: String },
}

/// Una conexión de cliente y su etapa.
pub struct Session {
    stage: Stage,
    outbox: Arc<Outbox>,
    /// Cómo se ve el cliente en la consola: `127.0.0.1:51234 (TCP)`.
    peer: String,
}

impl Session {
    /// Una sesión nueva para la conexión cuya cola es `outbox`; `peer`
    /// describe al cliente en la consola (dirección, puerto y transporte).
    /// Envía la primera línea: cómo iniciar sesión.
    pub fn start(outbox: Arc<Outbox>, peer: String) -> Session {
        let session = Session {
            stage: Stage::Anonymous,
            outbox,
            peer,
        };
        session.reply(&Event::Prompt);
        session
    }

    /// El nombre de la cuenta de esta sesión, si ya inició sesión.
    pub fn name(&self) -> Option<&str> {
        match &self.stage {
            Stage::Anonymous => None,
            Stage::AwaitingBalance { name } | Stage::Joined { name } => Some(name),
        }
    }

    fn reply(&self, event: &Event) {
        self.outbox.push(event.to_line().as_bytes());
    }

    fn refuse(&self, problem: Problem) {
        self.reply(&Event::Error(problem));
    }

    /// Responde a una línea que el marco descartó (demasiado larga).
    pub fn reject(&self, problem: Problem) {
        self.refuse(problem);
    }

    /// Atiende una línea completa del cliente (sin `\n`), tal como llegó del
    /// socket. Una línea que no es UTF-8 recibe [`Problem::InvalidUtf8`].
    pub fn handle(&mut self, chat: &Chat, bytes: &[u8]) -> Flow {
        let Ok(line) = std::str::from_utf8(bytes) else {
            self.refuse(Problem::InvalidUtf8);
            return Flow::Continue;
        };
        if let Stage::AwaitingBalance { name } = &self.stage {
            let name = name.clone();
            return self.answer_balance(chat, &name, line);
        }
        let command = match protocolo::parse_command(line) {
            Ok(Some(command)) => command,
            Ok(None) => return Flow::Continue,
            Err(problem) => {
                self.refuse(problem);
                return Flow::Continue;
            }
        };
        match (&self.stage, command) {
            (_, Command::Quit) => return self.quit(chat),
            (_, Command::Help) => self.reply(&Event::Help),
            (Stage::Anonymous, Command::Register { name, password }) => {
                self.register(chat, &name, &password);
            }
            (Stage::Anonymous, Command::Login { name, password }) => {
                self.login(chat, &name, &password);
            }
            (Stage::Anonymous, _) => self.refuse(Problem::NotSignedIn),
            (Stage::Joined { name }, command) => {
                let name = name.clone();
                self.chat_command(chat, &name, command);
            }
            // `AwaitingBalance` se atendió arriba.
            (Stage::AwaitingBalance { .. }, _) => {}
        }
        Flow::Continue
    }

    fn register(&mut self, chat: &Chat, name: &str, password: &str) {
        let name = match chat.ledger.register(name, password) {
            Ok(name) => name,
            Err(LedgerError::NameTaken) => return self.refuse(Problem::NameTaken(name.into())),
            Err(error) => return self.storage_failed(chat, &error),
        };
        if !chat.room.claim(&name, &self.outbox) {
            return self.refuse(Problem::AlreadyConnected(name));
        }
        chat.log(&format!("{name} registered from {}", self.peer));
        self.reply(&Event::Welcome);
        self.reply(&Event::AskBalance);
        self.stage = Stage::AwaitingBalance { name };
    }

    fn login(&mut self, chat: &Chat, name: &str, password: &str) {
        let Ok((name, balance)) = chat.ledger.verify(name, password) else {
            return self.refuse(Problem::BadCredentials);
        };
        if !chat.room.claim(&name, &self.outbox) {
            return self.refuse(Problem::AlreadyConnected(name));
        }
        chat.log(&format!("{name} signed in from {}", self.peer));
        self.reply(&Event::Welcome);
        match balance {
            Some(dollars) => {
                self.reply(&Event::Funds(dollars));
                self.join(chat, name);
            }
            // Se fue sin responder la pregunta la vez anterior.
            None => {
                self.reply(&Event::AskBalance);
                self.stage = Stage::AwaitingBalance { name };
            }
        }
    }

    fn answer_balance(&mut self, chat: &Chat, name: &str, line: &str) -> Flow {
        if matches!(protocolo::parse_command(line), Ok(Some(Command::Quit))) {
            return self.quit(chat);
        }
        if line.trim().is_empty() {
            return Flow::Continue;
        }
        let dollars = match protocolo::parse_balance(line) {
            Ok(dollars) => dollars,
            Err(problem) => {
                self.refuse(problem);
                self.reply(&Event::AskBalance);
                return Flow::Continue;
            }
        };
        if let Err(error) = chat.ledger.set_initial_balance(name, dollars) {
            self.storage_failed(chat, &error);
            self.reply(&Event::AskBalance);
            return Flow::Continue;
        }
        self.reply(&Event::BalanceSet(dollars));
        self.join(chat, name.to_string());
        Flow::Continue
    }

    fn join(&mut self, chat: &Chat, name: String) {
        let notice = Event::Connected(name.clone());
        deliver(&chat.room.join(&name), &notice);
        chat.log(&notice.to_string());
        self.stage = Stage::Joined { name };
    }

    fn chat_command(&self, chat: &Chat, me: &str, command: Command) {
        match command {
            Command::Public(text) => {
                let text = protocolo::render_text(&text);
                if text.trim().is_empty() {
                    return;
                }
                let event = Event::Public {
                    from: me.to_string(),
                    text,
                };
                deliver(&chat.room.others(me), &event);
                chat.log(&event.to_string());
            }
            Command::Private { to, text } => {
                let text = protocolo::render_text(&text);
                let Some((to_name, outbox)) = chat.room.find(&to) else {
                    return self.refuse(Problem::NotConnected(to));
                };
                if text.trim().is_empty() {
                    return;
                }
                let event = Event::Private {
                    from: me.to_string(),
                    text,
                };
                outbox.push(event.to_line().as_bytes());
                chat.log(&format!("{me} sent a private message to {to_name}"));
            }
            Command::Users => self.reply(&Event::Users(chat.room.names())),
            Command::Funds => self.reply(&Event::Funds(chat.ledger.balance(me).unwrap_or(0))),
            Command::Transfer { to, amount } => self.transfer(chat, me, &to, amount),
            Command::Register { .. } | Command::Login { .. } => {
                self.refuse(Problem::AlreadySignedIn(me.to_string()));
            }
            // Atendidos antes de llegar aquí.
            Command::Help | Command::Quit => {}
        }
    }

    fn transfer(&self, chat: &Chat, me: &str, to: &str, amount: u64) {
        let done = match chat.ledger.transfer(me, to, amount) {
            Ok(done) => done,
            Err(error) => {
                let problem = match error {
                    LedgerError::InsufficientFunds => Problem::InsufficientFunds,
                    LedgerError::SelfTransfer => Problem::SelfTransfer,
                    LedgerError::NoAccount => Problem::NoAccount(to.to_string()),
                    LedgerError::NoBalanceYet => Problem::NoBalanceYet(to.to_string()),
                    LedgerError::Overflow => Problem::Overflow(to.to_string()),
                    other => return self.storage_failed(chat, &other),
                };
                return self.refuse(problem);
            }
        };
        self.reply(&Event::TransferSent {
            to: done.to_name.clone(),
            amount,
            balance: done.from_balance,
        });
        if let Some((_, outbox)) = chat.room.find(&done.to_name) {
            let notice = Event::TransferReceived {
                from: me.to_string(),
                amount,
                balance: done.to_balance,
            };
            outbox.push(notice.to_line().as_bytes());
        }
        chat.log(&format!(
            "{me} transferred {amount} dollars to {}",
            done.to_name
        ));
    }

    fn storage_failed(&self, chat: &Chat, error: &LedgerError) {
        let detail = match error {
            LedgerError::Storage(detail) => detail.clone(),
            other => format!("{other:?}"),
        };
        chat.log(&format!("storage error, nothing was changed: {detail}"));
        self.refuse(Problem::StorageFailed);
    }

    /// `:q`: primero libera la cuenta y avisa a los demás, y recién después
    /// se despide. Así, quien recibe la despedida ya puede volver a entrar
    /// con la misma cuenta desde otra conexión.
    fn quit(&mut self, chat: &Chat) -> Flow {
        self.leave(chat);
        self.reply(&Event::Goodbye);
        Flow::Close
    }

    fn leave(&mut self, chat: &Chat) {
        let Some(name) = self.name().map(str::to_string) else {
            return;
        };
        self.stage = Stage::Anonymous;
        if let Some(others) = chat.room.leave(&name) {
            let notice = Event::Disconnected(name);
            deliver(&others, &notice);
            chat.log(&notice.to_string());
        }
    }

    /// Cierra la sesión porque la conexión terminó (tras `:q`, o porque se
    /// cortó): libera la cuenta y, si estaba en la sala, avisa a los demás y
    /// a la consola.
    pub fn end(mut self, chat: &Chat) {
        self.leave(chat);
    }
}

/// Entrega un evento a varias colas. La línea se arma una sola vez.
pub fn deliver(outboxes: &[Arc<Outbox>], event: &Event) {
    let line = event.to_line();
    for outbox in outboxes {
        outbox.push(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Flusher;
    use crate::outbox::tests::MemoryLink;
    use crate::password::HashCost;
    use std::sync::Mutex;

    struct Fixture {
        chat: Chat,
        console: Arc<Mutex<Vec<String>>>,
        flusher: Arc<Flusher>,
        _dir: tempfile::TempDir,
    }

    struct Peer {
        session: Session,
        link: MemoryLink,
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
                Box::new(move |line| sink.lock().expect("lock").push(line.to_string())),
            );
            Fixture {
                chat,
                console,
                flusher: Flusher::start().expect("flusher"),
                _dir: dir,
            }
        }

        fn connect(&self) -> Peer {
            let link = MemoryLink::default();
            let outbox = Outbox::new(link.clone(), 1 << 20, &self.flusher);
            let mut peer = Peer {
                session: Session::start(outbox, "test".into()),
                link,
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
            self.session.handle(&fixture.chat, line.as_bytes())
        }

        /// Las líneas recibidas desde la última llamada.
        fn lines(&mut self) -> Vec<String> {
            let text = self.link.text();
            let all: Vec<String> = text.lines().map(str::to_string).collect();
            let new = all[self.seen..].to_vec();
            self.seen = all.len();
            new
        }
    }

    #[test]
    fn register_asks_the_balance_and_then_joins() {
        let f = Fixture::new();
        let mut bob = f.joined("bob", 10);
        let mut alice = f.connect();
        alice.send(&f, ":register alice pw");
        assert_eq!(
            alice.lines(),
            [
                "Welcome to the best chat in the universe!",
                "[SERVER] Client: What is your balance?"
            ]
        );
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
        assert_eq!(anon.lines(), [Event::Help.to_string()]);
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
