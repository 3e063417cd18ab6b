//! Lo que el servidor le dice a un cliente: cada [`Event`] y cada
//! [`Problem`] es exactamente una línea, y su texto está escrito una sola
//! vez, en la tabla de plantillas de este archivo. De cada plantilla salen
//! las dos direcciones: escribir el aviso (`Display`) y reconocerlo
//! ([`Event::parse`], para el cliente y las pruebas). Es parte de
//! [`crate::curso::protocolo`]: puro, sin E/S.

use super::{
    GOODBYE, MAX_LINE_BYTES, MAX_NAME_CHARS, MAX_PASSWORD_BYTES, PRIVATE_PREFIX, SERVER_PREFIX,
    WELCOME, check_name, is_command_word, is_token, parse_digits,
};
use std::fmt;

/// Todo lo que puede salir mal en una petición, con su texto exacto.
///
/// Cada variante se envía como un aviso `[SERVER] Client: ...` (ver
/// [`Event::Error`]); el cliente puede corregir y seguir en la misma conexión.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Un comando de la sala antes de iniciar sesión.
    NotSignedIn,
    /// `:login` o `:register` con la sesión ya iniciada (lleva el nombre).
    AlreadySignedIn(String),
    /// Nombre fuera de la regla: 1 a 32 caracteres de `A-Z a-z 0-9 _ -` y
    /// las letras de [`SPANISH_LETTERS`](super::SPANISH_LETTERS); uno nuevo empieza con una letra.
    BadName,
    /// Contraseña vacía, con espacios o de más de 128 bytes.
    BadPassword,
    /// El nombre ya tiene cuenta (sin distinguir mayúsculas).
    NameTaken(String),
    /// Nombre o contraseña incorrectos: un solo mensaje para ambos casos, para
    /// que nadie pueda averiguar qué nombres existen.
    BadCredentials,
    /// La cuenta ya tiene una sesión abierta en otra conexión.
    AlreadyConnected(String),
    /// La respuesta a "What is your balance?" no es un número entero >= 0.
    BadBalance,
    /// El destinatario de un privado no está conectado.
    NotConnected(String),
    /// No existe una cuenta con ese nombre.
    NoAccount(String),
    /// El destinatario aún no ha declarado su saldo inicial.
    NoBalanceYet(String),
    /// Saldo insuficiente (texto exacto del enunciado 004).
    InsufficientFunds,
    /// Monto que no es un entero positivo que quepa en 64 bits.
    BadAmount,
    /// El saldo del destinatario se desbordaría (más de `u64::MAX` dólares).
    Overflow(String),
    /// Transferencia a uno mismo.
    SelfTransfer,
    /// Palabra `:algo` que no es un comando (lleva la palabra).
    UnknownCommand(String),
    /// Comando conocido con argumentos mal formados (lleva la forma correcta).
    Usage(String),
    /// Línea de más de [`MAX_LINE_BYTES`] bytes.
    LineTooLong,
    /// Línea que no es UTF-8 válido.
    InvalidUtf8,
    /// El servidor no pudo guardar el cambio en disco; no se aplicó.
    StorageFailed,
    /// Un datagrama con un token desconocido o revocado, o sin token.
    BadToken,
    /// Un datagrama sin token desde la dirección de una sesión abierta:
    /// quien escribe con `nc -u` olvidó poner el token delante.
    TokenFirst,
    /// Un datagrama con más de una línea (UDP no junta ni separa mensajes).
    OneLinePerDatagram,
    /// Un límite del programa completo rechazó el pedido (contraseñas
    /// fallidas, líneas de más...), con su propio texto. El curso no
    /// limita nada, así que nunca lo envía; [`Event::parse`] lo lee como
    /// cualquier aviso que no conoce, [`Event::Notice`].
    Refused(String),
}

/// Lo que el servidor le dice a un cliente: cada evento es exactamente una
/// línea de texto (sin el `\n`, que agrega [`Event::to_line`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Primera línea al conectar: cómo iniciar sesión.
    Prompt,
    /// `Welcome to the best chat in the universe!`
    Welcome,
    /// `[SERVER] Client: What is your balance?`
    AskBalance,
    /// `[SERVER] Client: The balance of N has been set to your account.`
    BalanceSet(u64),
    /// `[SERVER] Client: You have N dollars.`
    Funds(u64),
    /// `[SERVER] Client: <name> connected!`
    Connected(String),
    /// `[SERVER] Client: <name> disconnected!`
    Disconnected(String),
    /// `<from>: <text>`: mensaje público.
    Public { from: String, text: String },
    /// `[PRIVATE] <from>: <text>`: mensaje privado.
    Private { from: String, text: String },
    /// `[SERVER] Client: Connected users: a, b, c` (ordenados por nombre).
    Users(Vec<String>),
    /// Confirmación a quien transfiere, con su saldo nuevo en dólares.
    TransferSent {
        to: String,
        amount: u64,
        balance: u64,
    },
    /// Aviso a quien recibe, con su saldo nuevo en dólares.
    TransferReceived {
        from: String,
        amount: u64,
        balance: u64,
    },
    /// La lista de comandos, en una sola línea. Lleva las entradas de los
    /// comandos que agrega quien está enchufado (el programa completo:
    /// `:stats (server statistics), `); en el curso, `""`.
    Help(String),
    /// `You have been disconnected from the best chat in the universe!`
    Goodbye,
    /// `[SERVER] Client: Your token is <TOKEN>.`: tras entrar por UDP.
    Token(String),
    /// `[SERVER] Client: Your UDP token is <TOKEN>.`: tras entrar por TCP.
    UdpToken(String),
    /// `[SERVER] Client: pong`: respuesta a `:ping`.
    Pong,
    /// `[SERVER] Client: You signed in from another address, so this
    /// session was closed.`: a una sesión solo-UDP cuando su dueño entra
    /// desde otro lugar (UDP no tiene conexión que se corte: quien cerró
    /// `nc -u` no avisó, y la contraseña prueba que es el mismo).
    Replaced,
    /// `[SERVER] Client: <texto>`: un aviso que el curso no envía y el
    /// programa completo sí (el plazo para entrar, el apagado, sus límites,
    /// `:stats`), con su texto. El curso lo reconoce solo como eso: un aviso
    /// del servidor, que no es respuesta a un error.
    Notice(String),
    /// Un error, como aviso del servidor.
    Error(Problem),
}

// ------------------------------------------------------------------
// Las plantillas de los avisos: cada texto del protocolo está escrito una
// sola vez, aquí. `{}` es un hueco (un nombre, un número, un token...).
// De cada plantilla salen las dos direcciones: escribir el aviso
// (`Display`, con [`fill`]) y reconocerlo (`Event::parse`, con [`holes`]).

pub(crate) const PROMPT_TEXT: &str =
    "Sign in with :login <name> <password> or create an account with :register <name> <password>.";
const HELP_TEXT: &str = "Commands: <text> (public message), :p <user> <message> (private message), \
:u (connected users), :funds (your balance), :t <user> <amount> (transfer dollars), \
:smile :angry :confused (emojis), {}:help (this list), :q (quit).";
const ASK_BALANCE: &str = "What is your balance?";
const BALANCE_SET: &str = "The balance of {} has been set to your account.";
const FUNDS: &str = "You have {} dollars.";
const CONNECTED: &str = "{} connected!";
const DISCONNECTED: &str = "{} disconnected!";
const USERS: &str = "Connected users: {}";
const TRANSFER_SENT: &str = "You transferred {} dollars to {}. You have {} dollars.";
const TRANSFER_RECEIVED: &str = "{} transferred {} dollars to you. You have {} dollars.";
const TOKEN: &str = "Your token is {}.";
const UDP_TOKEN: &str = "Your UDP token is {}.";
const PONG: &str = "pong";
const REPLACED: &str = "You signed in from another address, so this session was closed.";

const NOT_SIGNED_IN: &str = "You are not signed in. {}";
const ALREADY_SIGNED_IN: &str = "You are already signed in as {}.";
const BAD_NAME: &str = "Names have 1 to {} characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), \
digits, _ and -; Me and You are reserved.";
const BAD_PASSWORD: &str = "Passwords have 1 to {} bytes and no spaces.";
const NAME_TAKEN: &str = "The name {} is already taken.";
const BAD_CREDENTIALS: &str = "Wrong name or password.";
const ALREADY_CONNECTED: &str = "{} is already connected.";
const BAD_BALANCE: &str =
    "Your balance must be a whole number of dollars, 0 or more (for example 50000).";
const NOT_CONNECTED: &str = "{} is not connected.";
const NO_ACCOUNT: &str = "There is no account named {}.";
const NO_BALANCE_YET: &str = "{} has not set a balance yet.";
const INSUFFICIENT_FUNDS: &str = "You don't have sufficient funds for the transaction.";
const BAD_AMOUNT: &str = "The amount must be a whole number of dollars from 1 to {}.";
const OVERFLOW: &str = "{}'s balance cannot hold that amount.";
const SELF_TRANSFER: &str = "You cannot transfer money to yourself.";
const UNKNOWN_COMMAND: &str = "Unknown command {}. Type :help to see the commands.";
const USAGE: &str = "Usage: {}";
const LINE_TOO_LONG: &str = "Line too long: the limit is {} bytes. It was discarded.";
const INVALID_UTF8: &str = "The line is not valid UTF-8. It was discarded.";
const STORAGE_FAILED: &str =
    "The server could not save the change, so nothing was changed. Try again later.";
const TOKEN_FIRST: &str = "Start each line with your token: <token> <line>";
const BAD_TOKEN: &str = "Unknown or expired token. {}";
const ONE_LINE_PER_DATAGRAM: &str = "Send one line per datagram.";

impl Event {
    /// La línea que viaja por el socket, con su `\n` final, en bytes UTF-8.
    pub fn to_line(&self) -> String {
        let mut line = self.to_string();
        line.push('\n');
        line
    }

    /// Reconoce una línea del servidor (sin `\n`). Es la inversa de
    /// `to_string`: `Event::parse(&e.to_string()) == Some(e)` para todo evento
    /// con nombres válidos (menos un [`Problem::Refused`], que vuelve como el
    /// aviso que es). Un aviso `[SERVER] Client: ` que no está en la tabla
    /// es un [`Event::Notice`]; `None`: la línea no es de este protocolo.
    pub fn parse(line: &str) -> Option<Event> {
        match line {
            WELCOME => return Some(Event::Welcome),
            GOODBYE => return Some(Event::Goodbye),
            _ => {}
        }
        if let Some(rest) = line.strip_prefix(PRIVATE_PREFIX) {
            let (from, text) = rest.split_once(": ")?;
            check_name(from).ok()?;
            return Some(Event::Private {
                from: from.to_string(),
                text: text.to_string(),
            });
        }
        let Some(notice) = line.strip_prefix(SERVER_PREFIX) else {
            let (from, text) = line.split_once(": ")?;
            check_name(from).ok()?;
            return Some(Event::Public {
                from: from.to_string(),
                text: text.to_string(),
            });
        };
        let known = read(NOTICES, notice).or_else(|| Problem::parse(notice).map(Event::Error));
        Some(known.unwrap_or_else(|| Event::Notice(notice.to_string())))
    }
}

/// Cómo se reconoce cada aviso: su plantilla y cómo armar el evento con lo
/// que quedó en sus huecos (`None` si un hueco no tiene la forma debida,
/// como un nombre inválido). Se prueban en orden; la primera que encaja gana.
pub(crate) type Reader<T> = fn(&[&str]) -> Option<T>;

const NOTICES: &[(&str, Reader<Event>)] = &[
    (PROMPT_TEXT, |_| Some(Event::Prompt)),
    (ASK_BALANCE, |_| Some(Event::AskBalance)),
    (PONG, |_| Some(Event::Pong)),
    (HELP_TEXT, |h| Some(Event::Help(h[0].into()))),
    (REPLACED, |_| Some(Event::Replaced)),
    (USERS, |h| Some(Event::Users(names(h[0])?))),
    (TOKEN, |h| is_token(h[0]).then(|| Event::Token(h[0].into()))),
    (UDP_TOKEN, |h| {
        is_token(h[0]).then(|| Event::UdpToken(h[0].into()))
    }),
    (BALANCE_SET, |h| Some(Event::BalanceSet(number(h[0])?))),
    (FUNDS, |h| Some(Event::Funds(number(h[0])?))),
    (TRANSFER_SENT, |h| {
        Some(Event::TransferSent {
            amount: number(h[0])?,
            to: name(h[1])?,
            balance: number(h[2])?,
        })
    }),
    (TRANSFER_RECEIVED, |h| {
        Some(Event::TransferReceived {
            from: name(h[0])?,
            amount: number(h[1])?,
            balance: number(h[2])?,
        })
    }),
    (CONNECTED, |h| Some(Event::Connected(name(h[0])?))),
    (DISCONNECTED, |h| Some(Event::Disconnected(name(h[0])?))),
];

const PROBLEMS: &[(&str, Reader<Problem>)] = &[
    (NOT_SIGNED_IN, |h| {
        fixed(h[0], PROMPT_TEXT, Problem::NotSignedIn)
    }),
    (ALREADY_SIGNED_IN, |h| {
        Some(Problem::AlreadySignedIn(name(h[0])?))
    }),
    (BAD_NAME, |h| fixed(h[0], MAX_NAME_CHARS, Problem::BadName)),
    (BAD_PASSWORD, |h| {
        fixed(h[0], MAX_PASSWORD_BYTES, Problem::BadPassword)
    }),
    (NAME_TAKEN, |h| Some(Problem::NameTaken(name(h[0])?))),
    (BAD_CREDENTIALS, |_| Some(Problem::BadCredentials)),
    (ALREADY_CONNECTED, |h| {
        Some(Problem::AlreadyConnected(name(h[0])?))
    }),
    (BAD_BALANCE, |_| Some(Problem::BadBalance)),
    (NOT_CONNECTED, |h| Some(Problem::NotConnected(name(h[0])?))),
    (NO_ACCOUNT, |h| Some(Problem::NoAccount(name(h[0])?))),
    (NO_BALANCE_YET, |h| Some(Problem::NoBalanceYet(name(h[0])?))),
    (INSUFFICIENT_FUNDS, |_| Some(Problem::InsufficientFunds)),
    (BAD_AMOUNT, |h| fixed(h[0], u64::MAX, Problem::BadAmount)),
    (OVERFLOW, |h| Some(Problem::Overflow(name(h[0])?))),
    (SELF_TRANSFER, |_| Some(Problem::SelfTransfer)),
    (UNKNOWN_COMMAND, |h| {
        is_command_word(h[0]).then(|| Problem::UnknownCommand(h[0].into()))
    }),
    (USAGE, |h| {
        (!h[0].is_empty()).then(|| Problem::Usage(h[0].into()))
    }),
    (LINE_TOO_LONG, |h| {
        fixed(h[0], MAX_LINE_BYTES, Problem::LineTooLong)
    }),
    (INVALID_UTF8, |_| Some(Problem::InvalidUtf8)),
    (STORAGE_FAILED, |_| Some(Problem::StorageFailed)),
    (BAD_TOKEN, |h| fixed(h[0], PROMPT_TEXT, Problem::BadToken)),
    (TOKEN_FIRST, |_| Some(Problem::TokenFirst)),
    (ONE_LINE_PER_DATAGRAM, |_| Some(Problem::OneLinePerDatagram)),
];

/// Lee `text` con la primera plantilla de `table` que encaje.
pub(crate) fn read<T>(table: &[(&str, Reader<T>)], text: &str) -> Option<T> {
    table
        .iter()
        .find_map(|(template, make)| make(&holes(template, text)?))
}

/// Lo que ocupa cada hueco `{}` de `template` en `text`, o `None` si `text`
/// no tiene esa forma. Cada hueco llega hasta la primera aparición del texto
/// fijo que lo sigue (los nombres no tienen espacios, así que no hay dudas).
fn holes<'a>(template: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let mut pieces = template.split("{}");
    let mut rest = text.strip_prefix(pieces.next()?)?;
    let mut found = Vec::new();
    let mut pieces = pieces.peekable();
    while let Some(piece) = pieces.next() {
        let end = if pieces.peek().is_none() {
            rest.strip_suffix(piece).map(str::len)?
        } else {
            rest.find(piece).filter(|_| !piece.is_empty())?
        };
        found.push(&rest[..end]);
        rest = &rest[end + piece.len()..];
    }
    rest.is_empty().then_some(found)
}

/// Escribe `template` con cada hueco `{}` lleno, en orden, con `values`.
pub(crate) fn fill(
    f: &mut fmt::Formatter<'_>,
    template: &str,
    values: &[&dyn fmt::Display],
) -> fmt::Result {
    let mut values = values.iter();
    for (i, piece) in template.split("{}").enumerate() {
        if i > 0 {
            match values.next() {
                Some(value) => value.fmt(f)?,
                None => return Err(fmt::Error),
            }
        }
        f.write_str(piece)?;
    }
    Ok(())
}

pub(crate) fn number<N: TryFrom<u64>>(text: &str) -> Option<N> {
    N::try_from(parse_digits(text)?).ok()
}

fn name(text: &str) -> Option<String> {
    check_name(text).ok().map(|()| text.to_string())
}

/// La lista de `:u`, separada por `, ` (vacía si no hay nadie).
fn names(list: &str) -> Option<Vec<String>> {
    if list.is_empty() {
        return Some(Vec::new());
    }
    list.split(", ").map(name).collect()
}

/// `value` si el hueco dice exactamente `expected` (un número o un texto
/// fijo del protocolo, como el límite de una línea).
fn fixed<T>(hole: &str, expected: impl fmt::Display, value: T) -> Option<T> {
    (hole == expected.to_string()).then_some(value)
}

impl Problem {
    /// Reconoce el texto de un error (lo que va tras `[SERVER] Client: `).
    /// Inversa de `to_string`; `None` si no es un error de este protocolo.
    pub fn parse(text: &str) -> Option<Problem> {
        read(PROBLEMS, text)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotSignedIn => fill(f, NOT_SIGNED_IN, &[&PROMPT_TEXT]),
            Problem::AlreadySignedIn(name) => fill(f, ALREADY_SIGNED_IN, &[name]),
            Problem::BadName => fill(f, BAD_NAME, &[&MAX_NAME_CHARS]),
            Problem::BadPassword => fill(f, BAD_PASSWORD, &[&MAX_PASSWORD_BYTES]),
            Problem::NameTaken(name) => fill(f, NAME_TAKEN, &[name]),
            Problem::BadCredentials => f.write_str(BAD_CREDENTIALS),
            Problem::AlreadyConnected(name) => fill(f, ALREADY_CONNECTED, &[name]),
            Problem::BadBalance => f.write_str(BAD_BALANCE),
            Problem::NotConnected(name) => fill(f, NOT_CONNECTED, &[name]),
            Problem::NoAccount(name) => fill(f, NO_ACCOUNT, &[name]),
            Problem::NoBalanceYet(name) => fill(f, NO_BALANCE_YET, &[name]),
            Problem::InsufficientFunds => f.write_str(INSUFFICIENT_FUNDS),
            Problem::BadAmount => fill(f, BAD_AMOUNT, &[&u64::MAX]),
            Problem::Overflow(name) => fill(f, OVERFLOW, &[name]),
            Problem::SelfTransfer => f.write_str(SELF_TRANSFER),
            Problem::UnknownCommand(word) => fill(f, UNKNOWN_COMMAND, &[word]),
            Problem::Usage(form) => fill(f, USAGE, &[form]),
            Problem::LineTooLong => fill(f, LINE_TOO_LONG, &[&MAX_LINE_BYTES]),
            Problem::InvalidUtf8 => f.write_str(INVALID_UTF8),
            Problem::StorageFailed => f.write_str(STORAGE_FAILED),
            Problem::BadToken => fill(f, BAD_TOKEN, &[&PROMPT_TEXT]),
            Problem::TokenFirst => f.write_str(TOKEN_FIRST),
            Problem::OneLinePerDatagram => f.write_str(ONE_LINE_PER_DATAGRAM),
            Problem::Refused(text) => f.write_str(text),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Welcome => return f.write_str(WELCOME),
            Event::Goodbye => return f.write_str(GOODBYE),
            Event::Public { from, text } => return write!(f, "{from}: {text}"),
            Event::Private { from, text } => return write!(f, "{PRIVATE_PREFIX}{from}: {text}"),
            _ => f.write_str(SERVER_PREFIX)?,
        }
        match self {
            Event::Prompt => f.write_str(PROMPT_TEXT),
            Event::AskBalance => f.write_str(ASK_BALANCE),
            Event::BalanceSet(n) => fill(f, BALANCE_SET, &[n]),
            Event::Funds(n) => fill(f, FUNDS, &[n]),
            Event::Connected(name) => fill(f, CONNECTED, &[name]),
            Event::Disconnected(name) => fill(f, DISCONNECTED, &[name]),
            Event::Users(names) => fill(f, USERS, &[&names.join(", ")]),
            Event::TransferSent {
                to,
                amount,
                balance,
            } => fill(f, TRANSFER_SENT, &[amount, to, balance]),
            Event::TransferReceived {
                from,
                amount,
                balance,
            } => fill(f, TRANSFER_RECEIVED, &[from, amount, balance]),
            Event::Help(more) => fill(f, HELP_TEXT, &[more]),
            Event::Token(token) => fill(f, TOKEN, &[token]),
            Event::UdpToken(token) => fill(f, UDP_TOKEN, &[token]),
            Event::Pong => f.write_str(PONG),
            Event::Replaced => f.write_str(REPLACED),
            Event::Notice(text) => f.write_str(text),
            Event::Error(problem) => problem.fmt(f),
            Event::Welcome | Event::Goodbye | Event::Public { .. } | Event::Private { .. } => {
                Ok(())
            }
        }
    }
}
