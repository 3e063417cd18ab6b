//! El estado que comparten todos los hilos del servidor ([`Chat`]: el
//! libro, la sala, los límites, la consola) y las acciones del chat que no
//! dependen del transporte: entrar, unirse a la sala, salir, cada comando
//! de quien ya está adentro. Es parte de [`crate::curso::session`]: la
//! sesión de cada conexión TCP y el lado UDP llaman a estas acciones.

use super::{Credentials, Replies, Speaker, Stage};
use crate::curso::console::Console;
use crate::curso::ledger::{Ledger, LedgerError, Transfer};
use crate::curso::protocolo::{self, Command, Event, Problem};
use crate::curso::room::{Claim, Presence, Room, Via};
use crate::curso::seams::{Attempt, Guard, Observer, Output};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// El estado compartido por todos los hilos del servidor, y las acciones
/// del chat que no dependen del transporte.
pub struct Chat {
    /// Cuentas y saldos.
    pub ledger: Ledger,
    /// Quién está conectado.
    pub room: Room,
    /// Los límites contra el abuso: líneas por segundo y contraseñas
    /// fallidas (ver [`Guard`]; el curso, ninguno).
    pub guard: Arc<dyn Guard>,
    console: Console,
    /// Quién cuenta lo que pasa (ver [`Observer`]; el curso, nadie).
    pub observer: Arc<dyn Observer>,
}

/// Una sesión recién abierta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// Nombre registrado de la cuenta.
    pub name: String,
    /// Token de la sesión (identifica la reserva en la sala).
    pub token: String,
    /// Saldo en dólares; `None` si hay que preguntarlo.
    pub balance: Option<u64>,
}

impl Chat {
    /// Envía `event` a una salida, y lo cuenta (ver [`Observer::delivered`]).
    pub fn send(&self, to: &Arc<dyn Output>, event: &Event) {
        self.observer.delivered(1);
        to.send(event.to_line().as_bytes());
    }

    /// Entrega `event` a varias salidas (un aviso a la sala), y lo cuenta.
    /// La línea se arma una sola vez.
    pub fn deliver(&self, to: &[Arc<dyn Output>], event: &Event) {
        self.observer.delivered(to.len());
        let line = event.to_line();
        for output in to {
            output.send(line.as_bytes());
        }
    }

    /// Une el libro de cuentas con una sala vacía, los límites contra el
    /// abuso y una consola.
    /// `guard` pone los límites contra el abuso; `observer` cuenta lo que
    /// pasa (el mismo que cuenta en `ledger`).
    pub fn new(
        ledger: Ledger,
        guard: Arc<dyn Guard>,
        console: Console,
        observer: Arc<dyn Observer>,
    ) -> Chat {
        Chat {
            ledger,
            room: Room::new(),
            guard,
            console,
            observer,
        }
    }

    /// La ayuda: los comandos del curso y los del observador enchufado
    /// (`:stats` en el programa completo).
    fn help(&self) -> Event {
        Event::Help(self.observer.help().to_string())
    }

    /// Escribe una línea en la consola del servidor (ver `console`).
    pub fn log(&self, line: &str) {
        (self.console)(line);
    }

    /// `:register`: crea la cuenta y la reserva para `presence`. `peer`
    /// describe al cliente en la consola. Errores: `NameTaken`,
    /// `AlreadyConnected`, `StorageFailed`.
    pub fn register(
        &self,
        name: &str,
        password: &str,
        presence: Presence,
        peer: &str,
    ) -> Result<SignedIn, Problem> {
        let name = match self.ledger.register(name, password) {
            Ok(name) => name,
            Err(LedgerError::NameTaken) => return Err(Problem::NameTaken(name.into())),
            Err(error) => return Err(self.storage_failed(&error)),
        };
        self.open(name, None, presence, &format!("registered from {peer}"))
    }

    /// `:login`: comprueba la contraseña y reserva la cuenta para
    /// `presence`. Errores: `BadCredentials`, `AlreadyConnected`.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        presence: Presence,
        peer: &str,
    ) -> Result<SignedIn, Problem> {
        let (name, balance) = self
            .ledger
            .verify(name, password)
            .map_err(|_| Problem::BadCredentials)?;
        self.open(name, balance, presence, &format!("signed in from {peer}"))
    }

    /// Reserva la cuenta en la sala y lo anota en la consola (`what`: cómo
    /// y desde dónde entró). Si la cuenta tenía una sesión solo-UDP, la
    /// sala decide ([`Room::claim`]): desde la misma dirección es la misma
    /// sesión (la respuesta a su entrada se perdió) y recibe el mismo
    /// token; desde otra, la vieja se cierra con un aviso. Error:
    /// `AlreadyConnected` (una sesión con conexión TCP).
    fn open(
        &self,
        name: String,
        balance: Option<u64>,
        presence: Presence,
        what: &str,
    ) -> Result<SignedIn, Problem> {
        let token = match self.room.claim(&name, presence) {
            Claim::New(token) => token,
            Claim::Again(token) => {
                self.log(&format!("{name} {what} again (the answer was lost)"));
                return Ok(SignedIn {
                    name,
                    token,
                    balance,
                });
            }
            Claim::Replaced { token, old } => {
                self.send(&old.output, &Event::Replaced);
                self.log(&format!("{name}'s silent UDP session was replaced"));
                self.departed(old.name, old.others);
                token
            }
            Claim::Taken => return Err(Problem::AlreadyConnected(name)),
        };
        self.log(&format!("{name} {what}"));
        Ok(SignedIn {
            name,
            token,
            balance,
        })
    }

    /// `:register` o `:login`, según `credentials`, reservando la cuenta
    /// para la presencia que arma `presence` (solo si hace falta). Devuelve
    /// lo mismo que [`Chat::register`] o [`Chat::login`].
    ///
    /// Antes de calcular ningún hash le pregunta al enchufe `Guard` si el
    /// intento puede seguir, y después le cuenta cómo terminó: `ip` es la
    /// dirección de donde vino, y `verified` dice si esa dirección está
    /// probada (una conexión TCP, cuyo saludo de tres vías la prueba). El
    /// curso deja pasar todo; el programa completo bloquea a quien adivina
    /// contraseñas (anexo 8.2 del informe).
    pub fn sign_in(
        &self,
        credentials: &Credentials,
        presence: impl FnOnce() -> Presence,
        peer: &str,
        ip: IpAddr,
        verified: bool,
    ) -> Result<SignedIn, Problem> {
        let now = Instant::now();
        let Credentials {
            name,
            password,
            register,
        } = credentials;
        let attempt = Attempt {
            ip,
            verified,
            register: *register,
            name,
        };
        // Antes de ningún hash: el enchufe de los límites puede rechazar.
        for line in self.guard.before_sign_in(&attempt, now)? {
            self.log(&line);
        }
        let result = if *register {
            self.register(name, password, presence(), peer)
        } else {
            self.login(name, password, presence(), peer)
        };
        let outcome = result.as_ref().map(|_| ());
        for line in self.guard.after_sign_in(&attempt, outcome, now) {
            self.log(&line);
        }
        result
    }

    /// Las líneas que siguen a una entrada correcta: la bienvenida, el token
    /// (`token_event`), y el saldo o la pregunta del saldo. Si ya tenía
    /// saldo, une al usuario a la sala. Devuelve `true` si quedó en la sala.
    pub fn welcome(&self, signed: &SignedIn, reply: &mut Replies, token_event: Event) -> bool {
        reply.send(self, &Event::Welcome);
        reply.send(self, &token_event);
        match signed.balance {
            Some(dollars) => {
                self.join(&signed.name, reply, &Event::Funds(dollars));
                true
            }
            // Nuevo, o se fue sin responder la pregunta la vez anterior.
            None => {
                reply.send(self, &Event::AskBalance);
                false
            }
        }
    }

    /// La respuesta a "What is your balance?". Devuelve `true` si el saldo
    /// quedó fijado y el usuario entró a la sala; si no, ya se respondió el
    /// error y se repitió la pregunta. `:help` y `:ping` se responden sin
    /// tomarlos como saldo.
    pub fn answer_balance(&self, name: &str, line: &str, reply: &mut Replies) -> bool {
        match protocolo::parse_command(line) {
            Ok(None) => return false,
            Ok(Some(Command::Help)) => {
                reply.send(self, &self.help());
                return false;
            }
            Ok(Some(Command::Ping)) => {
                reply.send(self, &Event::Pong);
                return false;
            }
            _ => {}
        }
        let result = protocolo::parse_balance(line).and_then(|dollars| {
            match self.ledger.set_initial_balance(name, dollars) {
                Ok(()) => Ok(dollars),
                // Ya lo fijó otra vía (su lado UDP): no se cambia.
                Err(LedgerError::BalanceAlreadySet) => Err(Problem::BadBalance),
                Err(error) => Err(self.storage_failed(&error)),
            }
        });
        match result {
            Ok(dollars) => {
                self.join(name, reply, &Event::BalanceSet(dollars));
                true
            }
            Err(problem) => {
                reply.send(self, &Event::Error(problem));
                reply.send(self, &Event::AskBalance);
                false
            }
        }
    }

    /// Une a `name` a la sala con `confirmation` (su saldo) como última
    /// respuesta de su entrada, y avisa a los demás, salvo que ya estuviera
    /// (una entrada repetida por UDP no es una llegada nueva). La
    /// confirmación y el aviso salen en el mismo paso en que queda unido
    /// (ver `Room::join`): quien recibe la confirmación ya está en la sala,
    /// y nadie lee un mensaje suyo antes del aviso de su llegada.
    fn join(&self, name: &str, reply: &mut Replies, confirmation: &Event) {
        reply.settle(self);
        let output = Arc::clone(reply.output());
        let notice = Event::Connected(name.to_string());
        let confirm = || self.send(&output, confirmation);
        if self
            .room
            .join(name, confirm, |others| self.deliver(others, &notice))
        {
            self.log(&notice.to_string());
        }
    }

    /// Cierra la sesión del token: libera la cuenta y, si estaba en la sala,
    /// avisa a los demás y a la consola (salvo durante el apagado).
    pub fn leave(&self, token: &str) {
        if let Some((name, others)) = self.room.leave(token) {
            self.departed(name, Some(others));
        }
    }

    /// Lo que sigue a que `name` deje la sala, se haya ido como se haya ido
    /// (`:q`, la conexión cortada, o inactividad por UDP): se olvida su balde
    /// de líneas (contando los datagramas descartados que faltaba informar)
    /// y, si estaba en la sala (`others`: a quiénes avisar), se avisa a los
    /// demás y a la consola.
    pub fn departed(&self, name: String, others: Option<Vec<Arc<dyn Output>>>) {
        if let Some(line) = self.guard.user_left(&name, Instant::now()) {
            self.log(&line);
        }
        let Some(others) = others else { return };
        let notice = Event::Disconnected(name);
        self.deliver(&others, &notice);
        self.log(&notice.to_string());
    }

    /// Un comando de alguien que ya está en la sala (`me`). Las respuestas
    /// van a `reply`; los mensajes a los demás se entregan según `via` (la
    /// regla del relay TCP+UDP). Una `:t` se aplica y queda en `reply`
    /// hasta que su línea del diario esté en disco (ver [`Replies`]). `:q`
    /// lo atiende quien llama, porque cerrar depende del transporte.
    pub fn command(&self, me: &str, command: Command, reply: &mut Replies, via: Via) {
        match command {
            Command::Public(text) => self.public(me, &text, via),
            Command::Private { to, text } => self.private(me, to, &text, reply, via),
            Command::Users => reply.send(self, &Event::Users(self.room.names())),
            Command::Funds => {
                // Lo que está en disco: una transferencia que otro envió y
                // que todavía no se sincronizó no se anuncia antes de tiempo.
                let dollars = self.ledger.durable_balance(me).unwrap_or(0);
                reply.send(self, &Event::Funds(dollars));
            }
            Command::Transfer { to, amount } => match self.ledger.transfer(me, &to, amount) {
                Ok(transfer) => reply.defer(transfer),
                Err(error) => reply.send(self, &Event::Error(self.refused(error, to))),
            },
            Command::Register { .. } | Command::Login { .. } => {
                let problem = Problem::AlreadySignedIn(me.to_string());
                reply.send(self, &Event::Error(problem));
            }
            Command::Help => reply.send(self, &self.help()),
            Command::Ping => reply.send(self, &Event::Pong),
            Command::Stats => match self.observer.report(Instant::now(), &|| self.room.census()) {
                Some(lines) => {
                    for line in lines {
                        reply.send(self, &Event::Notice(line));
                    }
                }
                None => {
                    let problem = Problem::UnknownCommand(":stats".to_string());
                    reply.send(self, &Event::Error(problem));
                }
            },
            Command::Quit => {}
        }
    }

    /// Un mensaje de `me` a la sala: a todos los demás, según `via`.
    fn public(&self, me: &str, text: &str, via: Via) {
        let text = self.guard.render(text);
        if text.trim().is_empty() {
            return;
        }
        let event = Event::Public {
            from: me.to_string(),
            text,
        };
        self.deliver(&self.room.others(me, via), &event);
        self.log(&event.to_string());
    }

    /// `:p`: un mensaje de `me` solo para `to`; si no está conectado, el
    /// error va a `reply`.
    fn private(&self, me: &str, to: String, text: &str, reply: &mut Replies, via: Via) {
        let text = self.guard.render(text);
        let Some((to_name, output)) = self.room.find(&to, via) else {
            return reply.send(self, &Event::Error(Problem::NotConnected(to)));
        };
        if text.trim().is_empty() {
            return;
        }
        let event = Event::Private {
            from: me.to_string(),
            text,
        };
        self.send(&output, &event);
        self.log(&format!("{me} sent a private message to {to_name}"));
    }

    /// Lo que se le responde a quien pidió una `:t` que el libro rechazó
    /// (`to`: el destinatario, tal como lo escribió).
    fn refused(&self, error: LedgerError, to: String) -> Problem {
        match error {
            LedgerError::InsufficientFunds => Problem::InsufficientFunds,
            LedgerError::SelfTransfer => Problem::SelfTransfer,
            LedgerError::NoAccount => Problem::NoAccount(to),
            LedgerError::NoBalanceYet => Problem::NoBalanceYet(to),
            LedgerError::Overflow => Problem::Overflow(to),
            other => self.storage_failed(&other),
        }
    }

    /// Una `:t` ya en disco: se confirma a quien la pidió (por `reply`) y
    /// se avisa al destinatario, por TCP si tiene conexión, si no por UDP.
    pub(super) fn transferred(&self, done: &Transfer, reply: &Arc<dyn Output>) {
        let amount = done.dollars;
        self.send(
            reply,
            &Event::TransferSent {
                to: done.to.clone(),
                amount,
                balance: done.from_balance,
            },
        );
        if let Some((_, output)) = self.room.find(&done.to, Via::Tcp) {
            let notice = Event::TransferReceived {
                from: done.from.clone(),
                amount,
                balance: done.to_balance,
            };
            self.send(&output, &notice);
        }
        let (from, to) = (&done.from, &done.to);
        self.log(&format!("{from} transferred {amount} dollars to {to}"));
    }

    /// El paso de la máquina de etapas para una línea de alguien que ya
    /// inició sesión (`me`), por cualquier transporte: en `AwaitingBalance`,
    /// la línea es la respuesta al saldo (salvo que el otro transporte ya la
    /// haya dado); en `InRoom`, un mensaje o un comando. Una línea que no es
    /// `:t` confirma antes lo pendiente en `reply`; una `:t` queda
    /// pendiente (ver [`Replies`]). Devuelve la etapa siguiente.
    pub fn signed_line(
        &self,
        me: Speaker<'_>,
        stage: Stage,
        line: &str,
        parsed: Result<Option<Command>, Problem>,
        reply: &mut Replies,
    ) -> Stage {
        if !matches!(parsed, Ok(Some(Command::Transfer { .. }))) {
            reply.settle(self);
        }
        if stage == Stage::AwaitingBalance && !self.room.is_joined(me.name) {
            return Stage::of(self.answer_balance(me.name, line, reply));
        }
        match parsed {
            Ok(Some(command)) => self.command(me.name, command, reply, me.via),
            Ok(None) => {}
            Err(problem) => reply.send(self, &Event::Error(problem)),
        }
        Stage::InRoom
    }

    pub(super) fn storage_failed(&self, error: &LedgerError) -> Problem {
        let detail = match error {
            LedgerError::Storage(detail) => detail.clone(),
            other => format!("{other:?}"),
        };
        self.log(&format!("storage error, nothing was changed: {detail}"));
        Problem::StorageFailed
    }
}
