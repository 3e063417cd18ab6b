//! Pruebas de propiedades (issue #6) con `proptest`: en vez de unos pocos
//! ejemplos escritos a mano, cientos de entradas al azar, y cuando una
//! falla, `proptest` la achica hasta el caso mínimo.
//!
//! - Protocolo: ninguna cadena hace entrar en pánico a los parsers; cada
//!   evento, escrito y vuelto a leer, es el mismo; y `parse_command` acepta
//!   exactamente la gramática documentada en el README.
//! - Libro: cualquier mezcla de registros y transferencias desde varios
//!   hilos conserva el total, nunca deja un saldo negativo (ni lo intenta:
//!   se rechaza), y lo que queda en disco es lo mismo que en memoria.

use chat::curso::seams::Unobserved;
use chat::curso::storage::DirLock;
use chat::ledger::{Ledger, LedgerError, MakeDurability, SyncEach};
use chat::password::HashCost;
use chat::protocolo::{
    self, Command, EMOJIS, Event, Problem, RESERVED_NAMES, check_new_name, parse_command,
    render_text,
};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::thread;

/// Un nombre válido: 1 a 32 de `A-Z a-z 0-9 _ -`, sin los reservados.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_\\-áéíóúüñÁÉÍÓÚÜÑ]{1,32}".prop_filter("reservado", |n| {
        !RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(n))
    })
}

/// Un nombre que `:register` acepta: empieza con una letra y no es una
/// palabra del protocolo (`SERVER`, `PRIVATE`, `Client`).
fn new_name() -> impl Strategy<Value = String> {
    name().prop_filter("nombre nuevo", |n| check_new_name(n).is_ok())
}

/// Texto de un mensaje tal como lo ven los demás (ya limpio).
fn text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| render_text(&s))
}

fn token() -> impl Strategy<Value = String> {
    "[0-9a-f]{32}"
}

fn problem() -> impl Strategy<Value = Problem> {
    prop_oneof![
        Just(Problem::NotSignedIn),
        name().prop_map(Problem::AlreadySignedIn),
        Just(Problem::BadName),
        Just(Problem::BadPassword),
        name().prop_map(Problem::NameTaken),
        Just(Problem::BadCredentials),
        name().prop_map(Problem::AlreadyConnected),
        Just(Problem::BadBalance),
        name().prop_map(Problem::NotConnected),
        name().prop_map(Problem::NoAccount),
        name().prop_map(Problem::NoBalanceYet),
        Just(Problem::InsufficientFunds),
        Just(Problem::BadAmount),
        name().prop_map(Problem::Overflow),
        Just(Problem::SelfTransfer),
        ":[a-z]{1,12}".prop_map(Problem::UnknownCommand),
        prop_oneof![
            Just(":register <name> <password>"),
            Just(":p <user> <message>"),
            Just(":t <user> <amount>"),
            Just(":q"),
        ]
        .prop_map(|form| Problem::Usage(form.to_string())),
        Just(Problem::LineTooLong),
        Just(Problem::InvalidUtf8),
        Just(Problem::StorageFailed),
        Just(Problem::BadToken),
        Just(Problem::OneLinePerDatagram),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Prompt),
        Just(Event::Welcome),
        Just(Event::AskBalance),
        any::<u64>().prop_map(Event::BalanceSet),
        any::<u64>().prop_map(Event::Funds),
        name().prop_map(Event::Connected),
        name().prop_map(Event::Disconnected),
        (name(), text()).prop_map(|(from, text)| Event::Public { from, text }),
        (name(), text()).prop_map(|(from, text)| Event::Private { from, text }),
        prop::collection::vec(name(), 0..6).prop_map(Event::Users),
        (name(), any::<u64>(), any::<u64>()).prop_map(|(to, amount, balance)| {
            Event::TransferSent {
                to,
                amount,
                balance,
            }
        }),
        (name(), any::<u64>(), any::<u64>()).prop_map(|(from, amount, balance)| {
            Event::TransferReceived {
                from,
                amount,
                balance,
            }
        }),
        Just(Event::Help(String::new())),
        Just(Event::Goodbye),
        token().prop_map(Event::Token),
        token().prop_map(Event::UdpToken),
        Just(Event::Pong),
        Just(Event::Replaced),
        problem().prop_map(Event::Error),
    ]
}

/// Uno o más espacios o tabuladores: la gramática separa con cualquier
/// cantidad de espacio.
fn gap() -> impl Strategy<Value = String> {
    "[ \t]{1,3}"
}

/// Un comando válido y una línea que lo escribe en alguna de las formas
/// documentadas (`:p <user> <message>` o `:p - <user> - <message>`...).
fn command_line() -> impl Strategy<Value = (Command, String)> {
    let password = "[!-~]{1,64}";
    let message = "[^\\s][^\n\r]{0,40}";
    prop_oneof![
        (new_name(), password, gap(), gap()).prop_map(|(name, password, a, b)| {
            let line = format!(":register{a}{name}{b}{password}");
            (Command::Register { name, password }, line)
        }),
        (name(), password, gap(), gap()).prop_map(|(name, password, a, b)| {
            let line = format!(":login{a}{name}{b}{password}");
            (Command::Login { name, password }, line)
        }),
        (name(), message, gap(), gap(), any::<bool>()).prop_map(|(to, text, a, b, dashed)| {
            let line = if dashed || to == "-" {
                format!(":p{a}-{b}{to}{a}-{b}{text}")
            } else {
                format!(":p{a}{to}{b}{text}")
            };
            (Command::Private { to, text }, line)
        }),
        (name(), 1..=u64::MAX, gap(), gap(), any::<bool>()).prop_map(
            |(to, amount, a, b, dashed)| {
                let line = if dashed || to == "-" {
                    format!(":t{a}-{b}{to}{a}-{b}{amount}")
                } else {
                    format!(":t{a}{to}{b}{amount}")
                };
                (Command::Transfer { to, amount }, line)
            }
        ),
        Just((Command::Users, ":u".to_string())),
        Just((Command::Funds, ":funds".to_string())),
        Just((Command::Help, ":help".to_string())),
        Just((Command::Quit, ":q".to_string())),
        Just((Command::Ping, ":ping".to_string())),
    ]
}

/// Las palabras que son comandos, según el README.
const COMMAND_WORDS: [&str; 9] = [
    ":register",
    ":login",
    ":p",
    ":t",
    ":u",
    ":funds",
    ":help",
    ":q",
    ":ping",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_string_makes_a_parser_panic(line in any::<String>()) {
        let _ = parse_command(&line);
        let _ = Event::parse(&line);
        let _ = Problem::parse(&line);
        let _ = protocolo::parse_balance(&line);
        let _ = protocolo::split_token(&line);
        let clean = render_text(&line);
        prop_assert!(!clean.chars().any(char::is_control));
        // El programa completo quita además lo que no se ve.
        #[cfg(feature = "extra")]
        let clean = {
            use chat::extra::invisible::{self, is_bidi_control, is_invisible};
            let clean = invisible::render_text(&line);
            let hidden = |c: char| c.is_control() || is_bidi_control(c) || is_invisible(c);
            prop_assert!(!clean.chars().any(hidden));
            clean
        };
        // Nada de espacio que empuje un texto falso al principio de otra
        // línea de la terminal: un solo espacio ASCII entre palabras.
        prop_assert!(!clean.contains("  ") && clean.trim() == clean);
        prop_assert!(clean.chars().all(|c| c == ' ' || !c.is_whitespace()));
    }

    #[test]
    fn every_event_reads_back_as_itself(event in event()) {
        let line = event.to_string();
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(Event::parse(&line), Some(event));
    }

    #[test]
    fn documented_commands_parse_to_what_they_say(
        (command, line) in command_line(),
        lead in "[ \t]{0,2}",
        trail in "[ \t]{0,2}",
    ) {
        // Espacio antes o después no cambia un comando (salvo dentro del
        // texto de un privado, que se entrega tal cual).
        let trail = if matches!(command, Command::Private { .. }) { String::new() } else { trail };
        prop_assert_eq!(parse_command(&format!("{lead}{line}{trail}")), Ok(Some(command)));
    }

    #[test]
    fn a_line_that_does_not_start_with_a_command_word_is_a_public_message(
        line in "[^:\\s][^\n]{0,60}",
    ) {
        prop_assert_eq!(parse_command(&line), Ok(Some(Command::Public(line.clone()))));
    }

    #[test]
    fn any_other_colon_word_is_an_unknown_command_or_an_emoji(
        word in ":[a-z]{1,10}",
        rest in "([ \t][^\n]{0,20})?",
    ) {
        let line = format!("{word}{rest}");
        let parsed = parse_command(&line);
        if EMOJIS.iter().any(|(emoji, _)| *emoji == word) {
            prop_assert_eq!(parsed, Ok(Some(Command::Public(line))));
        } else if !COMMAND_WORDS.contains(&word.as_str()) {
            prop_assert_eq!(parsed, Err(Problem::UnknownCommand(word)));
        } else {
            // Una palabra de comando siempre da ese comando o un error
            // que explica su forma, nunca un mensaje público.
            let is_public = matches!(parsed, Ok(Some(Command::Public(_))));
            prop_assert!(!is_public, "{:?}", parsed);
        }
    }

    #[test]
    fn commands_without_arguments_refuse_arguments(
        word in prop::sample::select(vec![":u", ":funds", ":help", ":q", ":ping"]),
        extra in "[ \t]{1,2}[^\\s][^\n]{0,10}",
    ) {
        let parsed = parse_command(&format!("{word}{extra}"));
        prop_assert_eq!(parsed, Err(Problem::Usage(word.to_string())));
    }

    #[test]
    fn amounts_are_whole_positive_dollars(amount in "[^\\s]{1,25}", to in name()) {
        // `:t - x` empieza la forma con guiones: un usuario llamado `-` solo
        // se alcanza con ella (`:t - - - 5`).
        prop_assume!(to != "-");
        let parsed = parse_command(&format!(":t {to} {amount}"));
        match amount.parse::<u64>() {
            Ok(n) if n > 0 && amount.bytes().all(|b| b.is_ascii_digit()) => {
                prop_assert_eq!(parsed, Ok(Some(Command::Transfer { to, amount: n })));
            }
            _ => prop_assert_eq!(parsed, Err(Problem::BadAmount)),
        }
    }
}

/// Una operación de un hilo sobre el libro.
#[derive(Debug, Clone)]
enum Op {
    /// Registrar `users[i]` (si ya existe, `NameTaken`).
    Register(usize),
    /// Transferir de `users[from]` a `users[to]`.
    Transfer {
        from: usize,
        to: usize,
        dollars: u64,
    },
}

const USERS: usize = 5;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..USERS).prop_map(Op::Register),
        3 => (0..USERS, 0..USERS, 0u64..400).prop_map(|(from, to, dollars)| Op::Transfer {
            from,
            to,
            dollars
        }),
    ]
}

/// La durabilidad del programa completo si `grouped`, la del curso si no
/// (en la versión del curso, siempre la suya).
fn durability(grouped: bool) -> MakeDurability {
    #[cfg(feature = "extra")]
    if grouped {
        return Box::new(chat::extra::rendimiento::commit::GroupCommit::boxed);
    }
    let _ = grouped;
    Box::new(SyncEach::boxed)
}

proptest! {
    // Cada caso sincroniza el disco en cada operación: pocos casos, pero
    // cada uno con varios hilos a la vez.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_ledger_conserves_money_under_any_concurrent_mix(
        initial in prop::collection::vec(0u64..1000, USERS),
        plans in prop::collection::vec(prop::collection::vec(op(), 1..25), 2..5),
        grouped in any::<bool>(),
    ) {
        // La durabilidad del curso (un `sync_data` por operación) o la del
        // programa completo (*group commit*): las reglas son las mismas.
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = DirLock::acquire(dir.path()).expect("candado");
        let durability = durability(grouped);
        let opened = Ledger::open_locked(lock, chat::password::Argon::boxed(HashCost::Minimal), Arc::new(Unobserved), durability);
        let ledger = Arc::new(opened.expect("abrir"));
        let users: Vec<String> = (0..USERS).map(|i| format!("u{i}")).collect();
        // La mitad de las cuentas existe desde antes, con saldo; la otra
        // mitad la registran los hilos (varios a la vez el mismo nombre).
        for i in 0..USERS / 2 + 1 {
            ledger.register(&users[i], "pw").expect("registro");
            ledger.set_initial_balance(&users[i], initial[i]).expect("saldo");
        }
        let total_before = ledger.total();

        let workers: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let ledger = Arc::clone(&ledger);
                let users = users.clone();
                thread::spawn(move || {
                    // (registros logrados, neto por cuenta según las respuestas)
                    let mut registered = Vec::new();
                    let mut net: HashMap<usize, i128> = HashMap::new();
                    for op in plan {
                        match op {
                            Op::Register(i) => match ledger.register(&users[i], "pw") {
                                Ok(_) => registered.push(i),
                                Err(LedgerError::NameTaken) => {}
                                Err(other) => panic!("registro: {other:?}"),
                            },
                            Op::Transfer { from, to, dollars } => {
                                // Aplicada y en disco, como la confirma el servidor.
                                let done = ledger
                                    .transfer(&users[from], &users[to], dollars)
                                    .and_then(|done| ledger.wait_durable(&done.receipt));
                                match done {
                                    Ok(_) => {
                                        *net.entry(from).or_default() -= i128::from(dollars);
                                        *net.entry(to).or_default() += i128::from(dollars);
                                    }
                                    // Un saldo nunca baja de cero: se rechaza.
                                    Err(
                                        LedgerError::InsufficientFunds
                                        | LedgerError::SelfTransfer
                                        | LedgerError::NoAccount
                                        | LedgerError::NoBalanceYet,
                                    ) => {}
                                    Err(other) => panic!("transferencia: {other:?}"),
                                }
                            }
                        }
                    }
                    (registered, net)
                })
            })
            .collect();
        let mut registered = Vec::new();
        let mut net: HashMap<usize, i128> = HashMap::new();
        for worker in workers {
            let (r, n) = worker.join().expect("hilo");
            registered.extend(r);
            for (i, d) in n {
                *net.entry(i).or_default() += d;
            }
        }

        // Cada nombre nuevo se registró una sola vez, aunque varios hilos
        // lo intentaron a la vez.
        registered.sort_unstable();
        let before_dedup = registered.len();
        registered.dedup();
        prop_assert_eq!(before_dedup, registered.len());
        // El total no cambió, y cada saldo es el inicial más lo confirmado.
        prop_assert_eq!(ledger.total(), total_before);
        for i in 0..USERS / 2 + 1 {
            let expected = i128::from(initial[i]) + net.get(&i).copied().unwrap_or(0);
            prop_assert!(expected >= 0);
            prop_assert_eq!(ledger.balance(&users[i]).map(i128::from), Some(expected));
        }
        // Y el disco dice lo mismo.
        let balances: Vec<Option<u64>> = users.iter().map(|u| ledger.balance(u)).collect();
        drop(ledger);
        let reopened = Ledger::open(dir.path(), HashCost::Minimal).expect("reabrir");
        let after: Vec<Option<u64>> = users.iter().map(|u| reopened.balance(u)).collect();
        prop_assert_eq!(after, balances);
        prop_assert_eq!(reopened.total(), total_before);
    }
}
