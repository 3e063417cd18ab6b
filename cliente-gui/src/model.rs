//! El estado de la ventana como datos puros: qué muestra tras cada línea
//! del servidor y qué envía tras cada acción del usuario. No dibuja ni
//! abre sockets: la vista (`app`) lo lee y lo cambia, y la red (`net`) le
//! trae lo que el núcleo del cliente muestra. Así se prueba sin pantalla.
//!
//! Las reglas del chat las decide el servidor: aquí solo se decide dónde
//! se ve cada respuesta (un error de inicio de sesión junto al botón, uno
//! de transferencia junto a su formulario, el resto en el historial).

use chat::cliente::Shown;
use chat::extra::notices::Notice;
use chat::protocolo::{EMOJIS, Event, Problem};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Qué pantalla se ve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Dirección, nombre, contraseña, `Login` y `Register`.
    SignIn,
    /// La pregunta del saldo de una cuenta nueva.
    Balance,
    /// La sala.
    Chat,
}

/// Por dónde viaja una línea.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// La conexión TCP de la sesión.
    Tcp,
    /// Datagramas UDP con el token de la sesión (enunciado 001).
    Udp,
}

/// Lo que la ventana le pide a la red.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Abrir una sesión nueva con el servidor en esta dirección.
    Connect(String),
    /// Enviar esta línea (sin fin de línea) a la sesión abierta.
    Line(String),
}

/// De qué clase es una línea del historial (cada una se ve distinta).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Un mensaje propio, público.
    Own,
    /// Un mensaje propio, privado.
    OwnPrivate,
    /// El mensaje público de otro.
    Public,
    /// Un mensaje privado de otro para mí.
    Private,
    /// Un aviso del servidor.
    Notice,
    /// Un error del servidor.
    Error,
}

/// Una línea del historial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// La hora local en que llegó, `HH:MM:SS`.
    pub time: String,
    /// Su clase.
    pub kind: Kind,
    /// El texto que se muestra.
    pub text: String,
}

/// Quién es este cliente: así se distingue cada ventana (enunciado 001).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// El nombre de la sesión.
    pub name: String,
    /// La dirección local (IP y puerto) de la conexión TCP.
    pub me: SocketAddr,
    /// El puerto local del socket UDP, cuando se abre.
    pub udp_port: Option<u16>,
    /// La dirección del servidor.
    pub server: SocketAddr,
}

/// El destinatario "todos" de la lista de usuarios.
pub const EVERYONE: &str = "todos";

/// Todo lo que muestra la ventana.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// La pantalla actual.
    pub view: View,
    /// El campo "Servidor" (`HOST:PUERTO`).
    pub addr: String,
    /// El campo "Nombre".
    pub name: String,
    /// El campo "Contraseña" (se muestra oculto).
    pub password: String,
    /// El error del último intento de entrar, junto a los botones.
    pub sign_in_error: Option<String>,
    /// Hasta cuándo se puede iniciar sesión, si el servidor lo anunció al
    /// saludar (`You have 60 seconds to sign in.`); se olvida al entrar.
    sign_in_deadline: Option<Instant>,
    /// El campo del saldo inicial.
    pub balance_input: String,
    /// El error del saldo inicial.
    pub balance_error: Option<String>,
    /// Hay una sesión abierta (o abriéndose) con el servidor.
    pub connected: bool,
    /// Quién es este cliente, tras entrar.
    pub identity: Option<Identity>,
    /// El selector TCP/UDP de los mensajes siguientes.
    pub transport: Transport,
    /// Por dónde dice el núcleo que viajan las líneas ahora.
    travel: Transport,
    /// Los usuarios conectados, sin uno mismo.
    pub users: BTreeSet<String>,
    /// El destinatario elegido; [`EVERYONE`] es un mensaje público.
    pub recipient: String,
    /// El historial de la sala.
    pub history: Vec<Entry>,
    /// El cuadro de texto del mensaje.
    pub message: String,
    /// El saldo en dólares, cuando se conoce.
    pub balance: Option<u64>,
    /// El destinatario de la transferencia.
    pub transfer_to: String,
    /// El monto de la transferencia, tal como se escribe.
    pub transfer_amount: String,
    /// Cómo terminó la última transferencia, junto al formulario.
    pub transfer_result: Option<Result<String, String>>,
    /// Hay una transferencia enviada que espera su respuesta.
    transfer_pending: bool,
    /// Por qué terminó la sesión, si terminó estando en la sala.
    pub ended: Option<String>,
}

impl Model {
    /// Una ventana nueva, con `addr` en el campo del servidor.
    pub fn new(addr: &str) -> Model {
        Model {
            view: View::SignIn,
            addr: addr.to_string(),
            name: String::new(),
            password: String::new(),
            sign_in_error: None,
            sign_in_deadline: None,
            balance_input: String::new(),
            balance_error: None,
            connected: false,
            identity: None,
            transport: Transport::Tcp,
            travel: Transport::Tcp,
            users: BTreeSet::new(),
            recipient: EVERYONE.to_string(),
            history: Vec::new(),
            message: String::new(),
            balance: None,
            transfer_to: String::new(),
            transfer_amount: String::new(),
            transfer_result: None,
            transfer_pending: false,
            ended: None,
        }
    }

    /// `Login` (`register == false`) o `Register`: abre la sesión si hace
    /// falta y envía `:login`/`:register` con el nombre y la contraseña.
    /// Sin nombre o sin contraseña no envía nada y lo dice.
    pub fn sign_in(&mut self, register: bool) -> Vec<Request> {
        let name = self.name.trim().to_string();
        if name.is_empty() || self.password.is_empty() {
            self.sign_in_error = Some("Escribe un nombre y una contraseña.".to_string());
            return Vec::new();
        }
        self.sign_in_error = None;
        let verb = if register { "register" } else { "login" };
        let mut requests = Vec::new();
        if !self.connected {
            self.connected = true;
            requests.push(Request::Connect(self.addr.trim().to_string()));
        }
        requests.push(Request::Line(format!(":{verb} {name} {}", self.password)));
        requests
    }

    /// Responde la pregunta del saldo con lo escrito.
    pub fn answer_balance(&mut self) -> Vec<Request> {
        self.balance_error = None;
        vec![Request::Line(self.balance_input.trim().to_string())]
    }

    /// Enviar el mensaje escrito: al destinatario elegido, por el
    /// transporte elegido. Si el transporte cambió, antes va `:udp` o `:tcp`
    /// (los comandos del núcleo que eligen por dónde viajan las líneas).
    pub fn send_message(&mut self) -> Vec<Request> {
        let text = self.message.trim().to_string();
        if text.is_empty() || !self.in_room() {
            return Vec::new();
        }
        self.message.clear();
        let mut requests = self.switch_transport();
        requests.push(Request::Line(if self.recipient == EVERYONE {
            text
        } else {
            format!(":p {} {text}", self.recipient)
        }));
        requests
    }

    /// Uno de los tres emojis del enunciado 004 (`index` en
    /// [`EMOJIS`]), enviado como un mensaje más.
    pub fn send_emoji(&mut self, index: usize) -> Vec<Request> {
        let Some((word, _)) = EMOJIS.get(index) else {
            return Vec::new();
        };
        let typed = std::mem::replace(&mut self.message, (*word).to_string());
        let requests = self.send_message();
        self.message = typed;
        requests
    }

    /// Enviar la transferencia del formulario (`:t <a quién> <monto>`). El
    /// servidor valida el monto y el destinatario; su respuesta se muestra
    /// junto al formulario.
    pub fn transfer(&mut self) -> Vec<Request> {
        let to = self.transfer_to.trim().to_string();
        let amount = self.transfer_amount.trim().to_string();
        if to.is_empty() || amount.is_empty() || !self.in_room() {
            self.transfer_result = Some(Err("Elige a quién y cuánto.".to_string()));
            return Vec::new();
        }
        self.transfer_result = None;
        self.transfer_pending = true;
        let mut requests = self.switch_transport();
        requests.push(Request::Line(format!(":t {to} {amount}")));
        requests
    }

    /// `Salir`: `:q`, que el núcleo envía siempre por TCP.
    pub fn quit(&mut self) -> Vec<Request> {
        if self.connected {
            vec![Request::Line(":q".to_string())]
        } else {
            Vec::new()
        }
    }

    /// Por dónde viajan las líneas ahora, según el núcleo (su respuesta a
    /// `:udp`/`:tcp`, que puede diferir del selector hasta el próximo envío).
    pub fn travel(&self) -> Transport {
        self.travel
    }

    /// Lo que queda del plazo para iniciar sesión a la hora `now`, para
    /// mostrarlo junto al formulario: `Quedan 42 s para iniciar sesión.`
    /// El servidor corta la conexión al vencer (`--signin-timeout-secs`);
    /// sin la cuenta, el usuario lo sabría solo al ver el corte. `None` si
    /// no hay plazo anunciado o ya se entró.
    pub fn sign_in_countdown(&self, now: Instant) -> Option<String> {
        let deadline = self.sign_in_deadline.filter(|_| self.connected)?;
        let left = deadline.saturating_duration_since(now).as_secs();
        Some(format!("Quedan {left} s para iniciar sesión."))
    }

    /// Si se puede escribir en la sala.
    pub fn in_room(&self) -> bool {
        self.view == View::Chat && self.connected
    }

    fn switch_transport(&mut self) -> Vec<Request> {
        if self.transport == self.travel {
            return Vec::new();
        }
        self.travel = self.transport;
        let line = match self.transport {
            Transport::Udp => ":udp",
            Transport::Tcp => ":tcp",
        };
        vec![Request::Line(line.to_string())]
    }

    /// Lo que el núcleo mostró, a la hora local `time` (`HH:MM:SS`, para el
    /// historial) y al instante `now` (para el plazo de inicio de sesión).
    /// Devuelve lo que hay que enviar en respuesta (al entrar a la sala,
    /// `:u` para llenar la lista de usuarios).
    pub fn on_shown(&mut self, shown: Shown, time: &str, now: Instant) -> Vec<Request> {
        match shown {
            Shown::Server { line, event } => return self.on_server(line, event, time, now),
            Shown::Own { to: None, text } => self.push(time, Kind::Own, format!("Me: {text}")),
            Shown::Own { to: Some(to), text } => self.push(
                time,
                Kind::OwnPrivate,
                format!("Me (privado a {to}): {text}"),
            ),
            Shown::Identity { name, me, server } => {
                self.identity = Some(Identity {
                    name,
                    me,
                    udp_port: None,
                    server,
                });
            }
            Shown::UdpReady { udp_port, .. } => {
                if let Some(identity) = &mut self.identity {
                    identity.udp_port = Some(udp_port);
                }
            }
            Shown::Travel(by_udp) => {
                self.travel = if by_udp {
                    Transport::Udp
                } else {
                    Transport::Tcp
                };
            }
            Shown::UdpNotReady | Shown::UdpUnavailable(_) => {
                // El núcleo sigue por TCP: el selector vuelve a TCP.
                self.travel = Transport::Tcp;
                self.transport = Transport::Tcp;
                let text = shown.text();
                self.push(time, Kind::Error, text);
            }
            Shown::Note { .. } | Shown::UdpSilent => {
                let text = shown.text();
                self.push(time, Kind::Error, text);
            }
            // `:udp` y `:tcp` son el selector de la ventana; el modo
            // `--udp` no existe aquí.
            Shown::ClientHelp | Shown::UdpOnly { .. } => {}
        }
        Vec::new()
    }

    /// La sesión terminó. `why` dice cómo (el servidor se despidió, se
    /// cortó, no se pudo conectar).
    pub fn on_ended(&mut self, why: String) {
        self.connected = false;
        self.transfer_pending = false;
        self.sign_in_deadline = None;
        match self.view {
            View::Chat => self.ended = Some(why),
            View::SignIn | View::Balance => {
                self.view = View::SignIn;
                // Un error del servidor (servidor lleno, dirección
                // bloqueada) explica mejor el cierre que el cierre mismo.
                if self.sign_in_error.is_none() {
                    self.sign_in_error = Some(why);
                }
            }
        }
    }

    fn on_server(
        &mut self,
        line: String,
        event: Option<Event>,
        time: &str,
        now: Instant,
    ) -> Vec<Request> {
        if self.view != View::Chat {
            return self.before_room(line, event, time, now);
        }
        let notice = event.as_ref().and_then(Notice::of);
        let kind = match &event {
            _ if notice == Some(Notice::ShuttingDown) => Kind::Error,
            Some(Event::Connected(name)) => {
                self.add_user(name);
                Kind::Notice
            }
            Some(Event::Disconnected(name)) => {
                self.remove_user(name);
                Kind::Notice
            }
            Some(Event::Users(names)) => {
                self.users.clear();
                for name in names {
                    self.add_user(name);
                }
                Kind::Notice
            }
            Some(Event::Public { .. }) => Kind::Public,
            Some(Event::Private { .. }) => Kind::Private,
            Some(Event::Funds(balance) | Event::BalanceSet(balance)) => {
                self.balance = Some(*balance);
                Kind::Notice
            }
            Some(Event::TransferSent { balance, .. }) => {
                self.balance = Some(*balance);
                if std::mem::take(&mut self.transfer_pending) {
                    self.transfer_result = Some(Ok(line.clone()));
                }
                Kind::Notice
            }
            Some(Event::TransferReceived { balance, .. }) => {
                self.balance = Some(*balance);
                Kind::Notice
            }
            Some(Event::Error(problem)) => {
                if self.transfer_pending && is_transfer_problem(problem) {
                    self.transfer_pending = false;
                    self.transfer_result = Some(Err(line));
                    return Vec::new();
                }
                Kind::Error
            }
            _ => Kind::Notice,
        };
        self.push(time, kind, line);
        Vec::new()
    }

    /// Una línea del servidor antes de entrar a la sala: los errores van
    /// junto a su formulario; la entrada cambia de pantalla.
    fn before_room(
        &mut self,
        line: String,
        event: Option<Event>,
        time: &str,
        now: Instant,
    ) -> Vec<Request> {
        if matches!(
            event,
            Some(Event::Welcome | Event::AskBalance | Event::BalanceSet(_) | Event::Funds(_))
        ) {
            // Se entró: el servidor ya no cuenta el plazo.
            self.sign_in_deadline = None;
        }
        if let Some(Notice::PromptWithin(secs)) = event.as_ref().and_then(Notice::of) {
            self.sign_in_deadline = Some(now + Duration::from_secs(secs));
        }
        match event {
            Some(Event::Prompt | Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => {}
            Some(Event::AskBalance) => {
                if self.view == View::Balance {
                    // La pregunta repetida sigue a su error: ya se mostró.
                } else {
                    self.view = View::Balance;
                }
            }
            Some(Event::BalanceSet(balance) | Event::Funds(balance)) => {
                self.balance = Some(balance);
                self.view = View::Chat;
                self.password.clear();
                self.push(time, Kind::Notice, line);
                return vec![Request::Line(":u".to_string())];
            }
            Some(Event::Error(_)) if self.view == View::Balance => self.balance_error = Some(line),
            _ => self.sign_in_error = Some(line),
        }
        Vec::new()
    }

    fn add_user(&mut self, name: &str) {
        let me = self
            .identity
            .as_ref()
            .map(|identity| identity.name.as_str());
        if me != Some(name) {
            self.users.insert(name.to_string());
        }
    }

    fn remove_user(&mut self, name: &str) {
        self.users.remove(name);
        if self.recipient == name {
            self.recipient = EVERYONE.to_string();
        }
        if self.transfer_to == name {
            self.transfer_to.clear();
        }
    }

    fn push(&mut self, time: &str, kind: Kind, text: String) {
        self.history.push(Entry {
            time: time.to_string(),
            kind,
            text,
        });
    }
}

/// Los errores que responden a `:t`: se muestran junto al formulario.
fn is_transfer_problem(problem: &Problem) -> bool {
    matches!(
        problem,
        Problem::InsufficientFunds
            | Problem::BadAmount
            | Problem::Overflow(_)
            | Problem::SelfTransfer
            | Problem::NoAccount(_)
            | Problem::NoBalanceYet(_)
            | Problem::Usage(_)
            | Problem::StorageFailed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lo que el núcleo muestra al recibir `line` del servidor.
    fn server(model: &mut Model, line: &str) -> Vec<Request> {
        let shown = Shown::Server {
            line: line.to_string(),
            event: Event::parse(line),
        };
        model.on_shown(shown, "12:00:00", Instant::now())
    }

    /// La línea del protocolo de `event`, como la envía el servidor.
    fn wire(event: Event) -> String {
        event.to_string()
    }

    fn line(text: &str) -> Request {
        Request::Line(text.to_string())
    }

    /// Una ventana ya en la sala como `ana`, con `bob` y `eva` conectados.
    fn in_room() -> Model {
        let mut model = Model::new("127.0.0.1:5500");
        model.name = "ana".into();
        model.password = "clave".into();
        model.sign_in(false);
        server(&mut model, &wire(Event::Welcome));
        model.on_shown(
            Shown::Identity {
                name: "ana".into(),
                me: "127.0.0.1:40000".parse().expect("dirección"),
                server: "127.0.0.1:5500".parse().expect("dirección"),
            },
            "12:00:00",
            Instant::now(),
        );
        let asked = server(&mut model, &wire(Event::Funds(100)));
        assert_eq!(asked, vec![line(":u")]);
        server(
            &mut model,
            &wire(Event::Users(vec!["ana".into(), "bob".into(), "eva".into()])),
        );
        model
    }

    #[test]
    fn signing_in_connects_once_and_errors_stay_beside_the_buttons() {
        let mut model = Model::new("127.0.0.1:5500");
        assert!(
            model.sign_in(false).is_empty(),
            "sin nombre no se envía nada"
        );
        assert!(model.sign_in_error.is_some());
        model.name = " ana ".into();
        model.password = "mala".into();
        assert_eq!(
            model.sign_in(false),
            vec![
                Request::Connect("127.0.0.1:5500".into()),
                line(":login ana mala")
            ]
        );
        server(&mut model, &wire(Event::Error(Problem::BadCredentials)));
        assert_eq!(model.view, View::SignIn);
        assert_eq!(
            model.sign_in_error,
            Some(wire(Event::Error(Problem::BadCredentials)))
        );
        model.password = "buena".into();
        assert_eq!(model.sign_in(true), vec![line(":register ana buena")]);
        assert!(
            model.history.is_empty(),
            "antes de la sala no hay historial"
        );
    }

    #[test]
    fn the_sign_in_deadline_counts_down_beside_the_form_until_joining() {
        let mut model = Model::new("127.0.0.1:5500");
        let t0 = Instant::now();
        assert_eq!(model.sign_in_countdown(t0), None, "sin conexión, sin plazo");
        model.name = "ana".into();
        model.password = "mala".into();
        model.sign_in(false);
        let greeting = Shown::Server {
            line: wire(Notice::PromptWithin(60).event()),
            event: Some(Notice::PromptWithin(60).event()),
        };
        model.on_shown(greeting, "12:00:00", t0);
        let at = |model: &Model, secs| model.sign_in_countdown(t0 + Duration::from_secs(secs));
        assert_eq!(
            at(&model, 0).as_deref(),
            Some("Quedan 60 s para iniciar sesión.")
        );
        assert_eq!(
            at(&model, 18).as_deref(),
            Some("Quedan 42 s para iniciar sesión.")
        );
        assert_eq!(
            at(&model, 99).as_deref(),
            Some("Quedan 0 s para iniciar sesión.")
        );
        server(&mut model, &wire(Event::Error(Problem::BadCredentials)));
        assert!(at(&model, 18).is_some(), "un error no detiene el plazo");
        server(&mut model, &wire(Event::Welcome));
        assert_eq!(
            at(&model, 18),
            None,
            "tras entrar, el servidor ya no cuenta"
        );

        let mut model = Model::new("127.0.0.1:5500");
        model.name = "ana".into();
        model.password = "x".into();
        model.sign_in(true);
        server(&mut model, &wire(Notice::PromptWithin(60).event()));
        server(&mut model, &wire(Event::AskBalance));
        assert_eq!(
            model.sign_in_countdown(t0),
            None,
            "la cuenta nueva ya entró"
        );

        let mut model = Model::new("127.0.0.1:5500");
        model.name = "ana".into();
        model.password = "x".into();
        model.sign_in(false);
        server(&mut model, &wire(Notice::PromptWithin(5).event()));
        model.on_ended("closed".into());
        assert_eq!(model.sign_in_countdown(t0), None, "sin conexión, sin plazo");
    }

    #[test]
    fn a_new_account_answers_the_balance_question() {
        let mut model = Model::new("x:1");
        model.name = "ana".into();
        model.password = "clave".into();
        model.sign_in(true);
        server(&mut model, &wire(Event::AskBalance));
        assert_eq!(model.view, View::Balance);
        model.balance_input = " mucho ".into();
        assert_eq!(model.answer_balance(), vec![line("mucho")]);
        server(&mut model, &wire(Event::Error(Problem::BadBalance)));
        server(&mut model, &wire(Event::AskBalance));
        assert_eq!(model.view, View::Balance);
        assert!(model.balance_error.is_some());
        model.balance_input = "250".into();
        model.answer_balance();
        assert_eq!(model.balance_error, None);
        let requests = server(&mut model, &wire(Event::BalanceSet(250)));
        assert_eq!((model.view, model.balance), (View::Chat, Some(250)));
        assert_eq!(requests, vec![line(":u")]);
        assert!(
            model.password.is_empty(),
            "la contraseña no queda en memoria"
        );
    }

    #[test]
    fn the_user_list_follows_the_room_without_me() {
        let mut model = in_room();
        let names = |m: &Model| m.users.iter().cloned().collect::<Vec<_>>();
        assert_eq!(names(&model), ["bob", "eva"]);
        server(&mut model, &wire(Event::Connected("zoe".into())));
        assert_eq!(names(&model), ["bob", "eva", "zoe"]);
        model.recipient = "eva".into();
        model.transfer_to = "eva".into();
        server(&mut model, &wire(Event::Disconnected("eva".into())));
        assert_eq!(names(&model), ["bob", "zoe"]);
        assert_eq!(model.recipient, EVERYONE, "no se le escribe a quien se fue");
        assert_eq!(model.transfer_to, "");
    }

    #[test]
    fn messages_go_to_the_chosen_user_by_the_chosen_transport() {
        let mut model = in_room();
        model.message = "  hola  ".into();
        assert_eq!(model.send_message(), vec![line("hola")]);
        assert_eq!(model.message, "");
        model.recipient = "bob".into();
        model.transport = Transport::Udp;
        model.message = "secreto".into();
        assert_eq!(
            model.send_message(),
            vec![line(":udp"), line(":p bob secreto")]
        );
        model.on_shown(Shown::Travel(true), "t", Instant::now());
        model.message = "otro".into();
        assert_eq!(model.send_message(), vec![line(":p bob otro")]);
        model.transport = Transport::Tcp;
        model.recipient = EVERYONE.into();
        model.message = "dejó".into();
        assert_eq!(model.send_emoji(0), vec![line(":tcp"), line(":smile")]);
        assert_eq!(model.message, "dejó", "el emoji no borra lo escrito");
        model.message = "   ".into();
        assert!(model.send_message().is_empty());
    }

    #[test]
    fn history_tells_own_private_and_server_lines_apart() {
        let mut model = in_room();
        let start = model.history.len();
        model.on_shown(
            Shown::Own {
                to: Some("bob".into()),
                text: "hola".into(),
            },
            "t",
            Instant::now(),
        );
        server(
            &mut model,
            &wire(Event::Private {
                from: "bob".into(),
                text: "qué tal".into(),
            }),
        );
        server(
            &mut model,
            &wire(Event::Public {
                from: "eva".into(),
                text: "buenas".into(),
            }),
        );
        server(
            &mut model,
            &wire(Event::Error(Problem::UnknownCommand(":x".into()))),
        );
        let seen: Vec<(Kind, &str)> = model.history[start..]
            .iter()
            .map(|e| (e.kind, e.text.as_str()))
            .collect();
        assert_eq!(seen[0], (Kind::OwnPrivate, "Me (privado a bob): hola"));
        assert_eq!(seen[1], (Kind::Private, "[PRIVATE] bob: qué tal"));
        assert_eq!(seen[2], (Kind::Public, "eva: buenas"));
        assert_eq!(seen[3].0, Kind::Error);
    }

    #[test]
    fn transfers_show_their_result_beside_the_form_and_update_the_balance() {
        let mut model = in_room();
        model.transfer_to = "bob".into();
        model.transfer_amount = "500".into();
        assert_eq!(model.transfer(), vec![line(":t bob 500")]);
        server(&mut model, &wire(Event::Error(Problem::InsufficientFunds)));
        assert!(matches!(model.transfer_result, Some(Err(_))));
        assert_eq!(model.balance, Some(100));
        model.transfer_amount = "40".into();
        model.transfer();
        let sent = Event::TransferSent {
            to: "bob".into(),
            amount: 40,
            balance: 60,
        };
        server(&mut model, &wire(sent));
        assert!(matches!(model.transfer_result, Some(Ok(_))));
        assert_eq!(model.balance, Some(60));
        let received = Event::TransferReceived {
            from: "bob".into(),
            amount: 5,
            balance: 65,
        };
        server(&mut model, &wire(received));
        assert_eq!(model.balance, Some(65));
    }

    #[test]
    fn an_ended_session_is_shown_where_the_user_is() {
        let mut model = in_room();
        model.on_ended("Se perdió la conexión con el servidor.".into());
        assert!(!model.connected && !model.in_room());
        assert_eq!(
            model.ended.as_deref(),
            Some("Se perdió la conexión con el servidor.")
        );
        assert!(
            model.quit().is_empty(),
            "sin sesión, Salir cierra sin enviar"
        );

        let mut model = Model::new("127.0.0.1:9");
        model.name = "ana".into();
        model.password = "x".into();
        model.sign_in(false);
        model.on_ended("No se pudo conectar".into());
        assert_eq!(model.sign_in_error.as_deref(), Some("No se pudo conectar"));
        assert_eq!(
            model.sign_in(false)[0],
            Request::Connect("127.0.0.1:9".into())
        );
    }
}
