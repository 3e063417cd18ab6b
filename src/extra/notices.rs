//! Los avisos que agrega el programa completo: el plazo para entrar, los
//! topes de conexiones, el apagado, los límites contra el abuso y
//! `:stats`. El curso no envía ninguno, así que no están en su tabla
//! (`curso::protocolo`): viajan como un `Event::Notice` (o, los que
//! rechazan un pedido, como un `Problem::Refused`) con el texto de aquí, y
//! cada texto está escrito una sola vez, en la tabla de este archivo, con
//! las mismas herramientas que la del curso: escribir (`Display`) y
//! reconocer ([`Notice::parse`], para el cliente completo y las pruebas).
//! Puro, sin E/S.

use crate::curso::cliente::Ending;
use crate::curso::protocolo::events::{PROMPT_TEXT, Reader, fill, number, read};
use crate::curso::protocolo::{Event, Problem, check_name};
use std::fmt;
use std::time::Duration;

/// Un aviso del programa completo, con su texto exacto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Primera línea al conectar, con el plazo para iniciar sesión en
    /// segundos: `... <password>. You have 60 seconds to sign in.` (el
    /// plazo se anuncia antes de vencer, no solo al cerrar: quien se entera
    /// al ver el corte ya perdió lo que escribía).
    PromptWithin(u64),
    /// `The server is full, try again later.`: a una conexión que pasa de
    /// `--max-clients`, justo antes de cerrarla.
    ServerFull,
    /// `There are too many connections from your address, try again
    /// later.`: a una conexión de más desde una misma dirección IP
    /// (`--max-clients-per-ip`): mil sockets quietos desde una sola máquina
    /// no dejan afuera a los demás.
    TooManyFromAddress,
    /// `You did not sign in within N seconds, so the connection was
    /// closed.` (`--signin-timeout-secs`).
    SigninTimeout(u64),
    /// `The server is shutting down.`: a todos, al apagarse con SIGINT o
    /// SIGTERM.
    ShuttingDown,
    /// `You are sending faster than N lines per second; your lines are
    /// being delayed.`: a quien envía por TCP más de `--max-lines-per-sec`
    /// líneas, la primera vez en cada ráfaga. Sus líneas no se pierden: el
    /// servidor deja de leerlas hasta que le toca, y el control de flujo de
    /// TCP frena al emisor (RFC 1459 §8.10).
    Paced(u32),
    /// `Too many failed sign-ins, so the connection was closed.`: tras
    /// `--max-signin-failures` contraseñas fallidas en una conexión.
    TooManyFailures,
    /// `Stats: clave=valor ...`: una línea de la respuesta a `:stats`.
    Stats(String),
    /// Un datagrama pasó el límite de líneas por segundo del usuario (lleva
    /// el límite, `--max-lines-per-sec`) y se descartó: por UDP no hay cómo
    /// frenar al emisor (por TCP, ver [`Notice::Paced`]). Se avisa una vez
    /// por ráfaga: un aviso por datagrama descartado sería otra inundación.
    TooFast(u32),
    /// La dirección IP del cliente está bloqueada por contraseñas fallidas:
    /// lleva los segundos que faltan (`--max-signin-failures-per-ip`).
    SigninBlocked(u64),
    /// La cuenta está bloqueada por contraseñas fallidas, vengan de donde
    /// vengan: lleva los segundos que faltan (`--max-signin-failures`). Un
    /// nombre que no existe se bloquea igual, así que la respuesta no dice
    /// qué cuentas hay.
    AccountBlocked(u64),
    /// La dirección IP del cliente creó demasiadas cuentas seguidas: lleva
    /// los segundos que faltan (`--max-registrations-per-ip`).
    TooManyAccounts(u64),
    /// El nombre de un `:register` se parece demasiado al de una cuenta que
    /// ya existe (el mismo esqueleto, ver `look_alike`: `aIice` junto a
    /// `alice`, `Jose` junto a `José`); lleva el nombre pedido. No se dice
    /// cuál, para no revelar qué cuentas hay.
    NameTooSimilar(String),
    /// El nombre de un `:register` es una palabra que el chat imprime en
    /// sus propias líneas (`SERVER`, `PRIVATE`, `Client`, ver
    /// `look_alike`); lleva el nombre pedido.
    ReservedName(String),
}

const PROMPT_WITHIN: &str = "{} You have {} seconds to sign in.";
const SERVER_FULL: &str = "The server is full, try again later.";
const TOO_MANY_FROM_ADDRESS: &str =
    "There are too many connections from your address, try again later.";
const SIGNIN_TIMEOUT: &str = "You did not sign in within {} seconds, so the connection was closed.";
const SHUTTING_DOWN: &str = "The server is shutting down.";
const PACED: &str =
    "You are sending faster than {} lines per second; your lines are being delayed.";
const TOO_MANY_FAILURES: &str = "Too many failed sign-ins, so the connection was closed.";
const STATS: &str = "Stats: {}";
const TOO_FAST: &str =
    "You are sending too fast: the limit is {} lines per second. Lines over it are discarded.";
const SIGNIN_BLOCKED: &str = "Too many failed sign-ins from your address. Try again in {} seconds.";
const ACCOUNT_BLOCKED: &str = "Too many failed sign-ins for this account. Try again in {} seconds.";
const TOO_MANY_ACCOUNTS: &str = "Too many new accounts from your address. Try again in {} seconds.";
const NAME_TOO_SIMILAR: &str = "The name {} is too similar to an existing one. Choose another.";
const RESERVED_NAME: &str =
    "The name {} is reserved: the chat prints it in its own lines. Choose another.";

const NOTICES: &[(&str, Reader<Notice>)] = &[
    (PROMPT_WITHIN, |h| {
        (h[0] == PROMPT_TEXT).then_some(Notice::PromptWithin(number(h[1])?))
    }),
    (SERVER_FULL, |_| Some(Notice::ServerFull)),
    (TOO_MANY_FROM_ADDRESS, |_| Some(Notice::TooManyFromAddress)),
    (SIGNIN_TIMEOUT, |h| {
        Some(Notice::SigninTimeout(number(h[0])?))
    }),
    (SHUTTING_DOWN, |_| Some(Notice::ShuttingDown)),
    (PACED, |h| Some(Notice::Paced(number(h[0])?))),
    (TOO_MANY_FAILURES, |_| Some(Notice::TooManyFailures)),
    (STATS, |h| Some(Notice::Stats(h[0].into()))),
    (TOO_FAST, |h| Some(Notice::TooFast(number(h[0])?))),
    (SIGNIN_BLOCKED, |h| {
        Some(Notice::SigninBlocked(number(h[0])?))
    }),
    (ACCOUNT_BLOCKED, |h| {
        Some(Notice::AccountBlocked(number(h[0])?))
    }),
    (TOO_MANY_ACCOUNTS, |h| {
        Some(Notice::TooManyAccounts(number(h[0])?))
    }),
    (NAME_TOO_SIMILAR, |h| {
        check_name(h[0])
            .is_ok()
            .then(|| Notice::NameTooSimilar(h[0].into()))
    }),
    (RESERVED_NAME, |h| {
        check_name(h[0])
            .is_ok()
            .then(|| Notice::ReservedName(h[0].into()))
    }),
];

impl Notice {
    /// Reconoce el texto de un aviso (lo que va tras `[SERVER] Client: `).
    /// Inversa de `to_string`; `None` si no es un aviso del programa
    /// completo.
    pub fn parse(text: &str) -> Option<Notice> {
        read(NOTICES, text)
    }

    /// El aviso que trae `event`, si es uno del programa completo (un
    /// `Event::Notice`, o un error `Problem::Refused`).
    pub fn of(event: &Event) -> Option<Notice> {
        match event {
            Event::Notice(text) | Event::Error(Problem::Refused(text)) => Notice::parse(text),
            _ => None,
        }
    }

    /// El evento que lo envía.
    pub fn event(&self) -> Event {
        Event::Notice(self.to_string())
    }

    /// El error que rechaza un pedido con este aviso.
    pub fn problem(&self) -> Problem {
        Problem::Refused(self.to_string())
    }

    /// El final de la sesión que anuncia, si anuncia uno: el servidor lo
    /// envía justo antes de cerrar.
    pub fn ending(&self) -> Option<Ending> {
        match self {
            Notice::ShuttingDown => Some(Ending::ShuttingDown),
            Notice::SigninTimeout(_) => Some(Ending::SigninDeadline),
            Notice::ServerFull | Notice::TooManyFromAddress => Some(Ending::ServerFull),
            Notice::TooManyFailures => Some(Ending::TooManyFailures),
            _ => None,
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::PromptWithin(secs) => fill(f, PROMPT_WITHIN, &[&PROMPT_TEXT, secs]),
            Notice::ServerFull => f.write_str(SERVER_FULL),
            Notice::TooManyFromAddress => f.write_str(TOO_MANY_FROM_ADDRESS),
            Notice::SigninTimeout(secs) => fill(f, SIGNIN_TIMEOUT, &[secs]),
            Notice::ShuttingDown => f.write_str(SHUTTING_DOWN),
            Notice::Paced(n) => fill(f, PACED, &[n]),
            Notice::TooManyFailures => f.write_str(TOO_MANY_FAILURES),
            Notice::Stats(fields) => fill(f, STATS, &[fields]),
            Notice::TooFast(n) => fill(f, TOO_FAST, &[n]),
            Notice::SigninBlocked(secs) => fill(f, SIGNIN_BLOCKED, &[secs]),
            Notice::AccountBlocked(secs) => fill(f, ACCOUNT_BLOCKED, &[secs]),
            Notice::TooManyAccounts(secs) => fill(f, TOO_MANY_ACCOUNTS, &[secs]),
            Notice::NameTooSimilar(name) => fill(f, NAME_TOO_SIMILAR, &[name]),
            Notice::ReservedName(name) => fill(f, RESERVED_NAME, &[name]),
        }
    }
}

/// Una duración en segundos enteros, redondeada hacia arriba, para los
/// avisos de espera: "Try again in 0 seconds" sería falso mientras quede
/// medio segundo.
pub fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Notice> {
        vec![
            Notice::PromptWithin(60),
            Notice::ServerFull,
            Notice::TooManyFromAddress,
            Notice::SigninTimeout(60),
            Notice::ShuttingDown,
            Notice::Paced(20),
            Notice::TooManyFailures,
            Notice::Stats("threads=3 users=1".into()),
            Notice::TooFast(20),
            Notice::SigninBlocked(30),
            Notice::AccountBlocked(60),
            Notice::TooManyAccounts(90),
            Notice::NameTooSimilar("aIice".into()),
            Notice::ReservedName("Server".into()),
        ]
    }

    #[test]
    fn every_notice_reads_back_as_itself_and_is_no_course_line() {
        for notice in all() {
            let line = notice.event().to_string();
            assert!(line.starts_with("[SERVER] Client: "), "{line:?}");
            // El curso lo ve como un aviso que no conoce; este archivo, como
            // el que es.
            let event = Event::parse(&line).expect("un aviso");
            assert_eq!(event, Event::Notice(notice.to_string()), "{line:?}");
            assert_eq!(Notice::of(&event), Some(notice.clone()), "{line:?}");
            assert_eq!(Notice::of(&Event::Error(notice.problem())), Some(notice));
        }
    }

    #[test]
    fn exact_contract_strings() {
        let cases = [
            (
                Notice::ServerFull,
                "[SERVER] Client: The server is full, try again later.",
            ),
            (
                Notice::ShuttingDown,
                "[SERVER] Client: The server is shutting down.",
            ),
            (
                Notice::PromptWithin(60),
                "[SERVER] Client: Sign in with :login <name> <password> or create an account \
                 with :register <name> <password>. You have 60 seconds to sign in.",
            ),
        ];
        for (notice, line) in cases {
            assert_eq!(notice.event().to_string(), line);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_number_reads_back(n in proptest::prelude::any::<u32>(), secs in proptest::prelude::any::<u64>()) {
            for notice in [
                Notice::PromptWithin(secs),
                Notice::SigninTimeout(secs),
                Notice::Paced(n),
                Notice::TooFast(n),
                Notice::SigninBlocked(secs),
                Notice::AccountBlocked(secs),
                Notice::TooManyAccounts(secs),
            ] {
                proptest::prop_assert_eq!(Notice::parse(&notice.to_string()), Some(notice));
            }
        }
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(30)), 30);
        assert_eq!(whole_seconds(Duration::ZERO), 0);
    }
}
