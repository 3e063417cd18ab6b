//! El protocolo de la sala de chat como código puro: convierte una línea que
//! envía un cliente en un [`Command`] y un [`Event`] del servidor en la línea
//! exacta que viaja por el socket (y de vuelta, para el cliente y las pruebas).
//!
//! Este módulo no hace E/S ni conoce sockets, hilos, cuentas ni saldos: solo
//! sabe qué forma tienen las líneas. Las reglas de negocio (quién está
//! conectado, si alcanza el dinero) viven en `session` y `ledger`; cómo se
//! corta el flujo de bytes en líneas vive en `framing`.
//!
//! Las cadenas que el servidor envía son parte del contrato (enunciados 003 y
//! 004 del curso): se mantienen byte a byte, en inglés.

pub(crate) mod events;
mod text;

pub use events::{Event, Problem};
pub use text::{render_text, render_with};

/// Dirección por defecto del servidor, y a la que se conecta el cliente: la
/// del código base del curso (enunciado 002).
pub const DEFAULT_ADDR: &str = "127.0.0.1:5500";

/// `--addr`: una dirección `HOST:PUERTO` (IPv6 entre corchetes:
/// `[::1]:5500`). Error, en castellano: falta el puerto, o no es un número
/// de 0 a 65535 (sin esto, `--addr 127.0.0.1` decía solo `invalid socket
/// address`, sin decir qué falta).
pub fn host_and_port(text: &str) -> Result<String, String> {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(text.to_string())
        }
        Some((host, _)) if !host.is_empty() && !host.ends_with(':') => {
            Err("el puerto, después de los dos puntos, es un número de 0 a 65535".to_string())
        }
        _ => Err(format!(
            "falta el puerto: HOST:PUERTO, por ejemplo {}:5500",
            text.trim_end_matches(':')
        )),
    }
}

/// Largo máximo de una línea del cliente, en bytes, sin contar el `\n` final
/// (ni el `\r` de un `\r\n`). Una línea más larga se descarta con un error.
pub const MAX_LINE_BYTES: usize = 4096;

/// Largo máximo de un nombre de usuario, en caracteres.
pub const MAX_NAME_CHARS: usize = 32;

/// Las letras del castellano que un nombre puede tener además de `A-Z a-z`
/// (`José`, `Begoña`, `Ramón`), siempre precompuestas: una `e` seguida de
/// un acento combinante (U+0301) no es una de ellas, así que un nombre
/// tiene una sola forma de escribirse.
pub const SPANISH_LETTERS: &str = "áéíóúüñÁÉÍÓÚÜÑ";

/// Largo máximo de una contraseña, en bytes.
pub const MAX_PASSWORD_BYTES: usize = 128;

/// Nombres que nadie puede tomar (ver [`check_name`]).
pub const RESERVED_NAMES: [&str; 2] = ["Me", "You"];

/// Prefijo de todos los avisos del servidor (enunciado 004).
pub const SERVER_PREFIX: &str = "[SERVER] Client: ";

/// Prefijo de un mensaje privado tal como lo ve quien lo recibe.
pub const PRIVATE_PREFIX: &str = "[PRIVATE] ";

/// Saludo que recibe quien entra a la sala (enunciado 003, punto 4).
pub const WELCOME: &str = "Welcome to the best chat in the universe!";

/// Despedida que recibe quien sale con `:q` (enunciado 004, punto 4).
pub const GOODBYE: &str = "You have been disconnected from the best chat in the universe!";

/// Los emojis del enunciado 004: la palabra que escribe el usuario y la
/// carita que ven los demás.
pub const EMOJIS: [(&str, &str); 3] = [(":smile", ":~)"), (":angry", ">:("), (":confused", ":S")];

/// Lo que un cliente pide con una línea de texto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `:register <name> <password>`: crear una cuenta.
    Register { name: String, password: String },
    /// `:login <name> <password>`: entrar a una cuenta existente.
    Login { name: String, password: String },
    /// Una línea que no es un comando: mensaje público, tal como llegó
    /// (los emojis y la limpieza se aplican al entregarlo, con [`render_text`]).
    Public(String),
    /// `:p - <user> - <message>` o `:p <user> <message>`: mensaje privado.
    Private { to: String, text: String },
    /// `:u`: lista de usuarios conectados.
    Users,
    /// `:funds`: saldo propio.
    Funds,
    /// `:t - <user> - <amount>` o `:t <user> <amount>`: transferencia, en dólares.
    Transfer { to: String, amount: u64 },
    /// `:help`: lista de comandos.
    Help,
    /// `:q`: salir de la sala.
    Quit,
    /// `:ping`: responde `pong`. Por UDP (`<TOKEN> :ping`) es cómo un cliente
    /// le dice al servidor su dirección UDP.
    Ping,
    /// `:stats`: las estadísticas en vivo del servidor.
    Stats,
}

const USAGE_REGISTER: &str = ":register <name> <password>";
const USAGE_LOGIN: &str = ":login <name> <password>";
const USAGE_PRIVATE: &str = ":p <user> <message>";
const USAGE_TRANSFER: &str = ":t <user> <amount>";

/// Interpreta una línea del cliente (ya sin `\n` ni `\r`).
///
/// Devuelve `Ok(None)` para una línea vacía o solo de espacios, que se ignora.
/// Una línea es un comando cuando su primera palabra es `:` seguido de letras
/// minúsculas ASCII (`:q`, `:funds`); así `:)`, `:D` o `:S` siguen siendo
/// texto. Los emojis (`:smile`...) no son comandos: la línea es un mensaje
/// público. Errores: [`Problem::UnknownCommand`] para una palabra `:algo`
/// desconocida, [`Problem::Usage`] para argumentos mal formados,
/// [`Problem::BadName`]/[`Problem::BadPassword`] en `:register`,
/// [`Problem::BadCredentials`] en `:login` con un nombre imposible y
/// [`Problem::BadAmount`] en `:t`.
pub fn parse_command(line: &str) -> Result<Option<Command>, Problem> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let (word, rest) = split_word(line);
    if !is_command_word(word) || EMOJIS.iter().any(|(emoji, _)| *emoji == word) {
        return Ok(Some(Command::Public(line.to_string())));
    }
    let args: Vec<&str> = rest.split_whitespace().collect();
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(Some(command))
        } else {
            Err(Problem::Usage(word.to_string()))
        }
    };
    match word {
        ":register" => match args.as_slice() {
            [name, password] => {
                check_new_name(name)?;
                check_password(password)?;
                let (name, password) = (name.to_string(), password.to_string());
                Ok(Some(Command::Register { name, password }))
            }
            _ => Err(Problem::Usage(USAGE_REGISTER.to_string())),
        },
        ":login" => match args.as_slice() {
            // Un nombre imposible recibe el mismo error que uno inexistente.
            [name, password] if check_name(name).is_err() || check_password(password).is_err() => {
                Err(Problem::BadCredentials)
            }
            [name, password] => {
                let (name, password) = (name.to_string(), password.to_string());
                Ok(Some(Command::Login { name, password }))
            }
            _ => Err(Problem::Usage(USAGE_LOGIN.to_string())),
        },
        ":p" => parse_private(rest).map(Some),
        ":t" => parse_transfer(rest).map(Some),
        ":u" => no_args(Command::Users),
        ":funds" => no_args(Command::Funds),
        ":help" => no_args(Command::Help),
        ":ping" => no_args(Command::Ping),
        ":stats" => no_args(Command::Stats),
        ":q" => no_args(Command::Quit),
        _ => Err(Problem::UnknownCommand(word.to_string())),
    }
}

/// Los argumentos de `:p`: destinatario y un texto no vacío.
fn parse_private(args: &str) -> Result<Command, Problem> {
    let usage = || Problem::Usage(USAGE_PRIVATE.to_string());
    let (to, text) = split_target(args).ok_or_else(usage)?;
    if text.trim().is_empty() {
        return Err(usage());
    }
    let (to, text) = (to.to_string(), text.to_string());
    Ok(Command::Private { to, text })
}

/// Los argumentos de `:t`: destinatario y un monto (ver [`parse_amount`]).
fn parse_transfer(args: &str) -> Result<Command, Problem> {
    let usage = || Problem::Usage(USAGE_TRANSFER.to_string());
    let (to, amount) = split_target(args).ok_or_else(usage)?;
    let amount = amount.trim();
    if amount.is_empty() {
        return Err(usage());
    }
    let amount = parse_amount(amount)?;
    Ok(Command::Transfer {
        to: to.to_string(),
        amount,
    })
}

/// Interpreta la respuesta a "What is your balance?": un número entero de
/// dólares, 0 o más, que quepa en `u64` (espacios alrededor permitidos).
///
/// Errores: [`Problem::BadBalance`] para cualquier otra cosa (`-5`, `50.000`,
/// `abc`, un número de más de 20 dígitos).
pub fn parse_balance(line: &str) -> Result<u64, Problem> {
    parse_digits(line.trim()).ok_or(Problem::BadBalance)
}

/// Interpreta un monto de transferencia: entero positivo de dólares que quepa
/// en `u64`. Errores: [`Problem::BadAmount`] (también para `0`).
pub fn parse_amount(text: &str) -> Result<u64, Problem> {
    match parse_digits(text) {
        Some(0) | None => Err(Problem::BadAmount),
        Some(amount) => Ok(amount),
    }
}

/// Comprueba la regla de nombres del contrato: 1 a 32 caracteres de
/// `A-Z a-z 0-9 _ -` y las letras del castellano ([`SPANISH_LETTERS`],
/// precompuestas). Además se reservan `Me` y `You` (en cualquier
/// combinación de mayúsculas): el cliente muestra las líneas propias como
/// `Me: ...`, y un usuario `You` haría ambiguo el aviso de transferencia
/// (`You transferred 3 dollars to you...`). Ningún nombre empieza con `[`,
/// así que ninguna línea ajena puede empezar como un aviso del servidor.
/// Error: [`Problem::BadName`].
pub fn check_name(name: &str) -> Result<(), Problem> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || SPANISH_LETTERS.contains(c);
    let reserved = RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name));
    let chars = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&chars) && name.chars().all(allowed) && !reserved {
        Ok(())
    } else {
        Err(Problem::BadName)
    }
}

/// La regla de un nombre **nuevo** (`:register`): la de [`check_name`],
/// más empezar con una letra (`-`, `--` o `_` no se leen como un nombre,
/// y `:t - 5` parecería un error de uso). Las cuentas que ya existían con
/// un nombre así siguen entrando: `:login` usa [`check_name`]. Error:
/// [`Problem::BadName`].
pub fn check_new_name(name: &str) -> Result<(), Problem> {
    check_name(name)?;
    if !name.chars().next().is_some_and(char::is_alphabetic) {
        return Err(Problem::BadName);
    }
    Ok(())
}

/// Comprueba una contraseña: 1 a 128 bytes, sin espacios ni caracteres de
/// control. Error: [`Problem::BadPassword`].
pub fn check_password(password: &str) -> Result<(), Problem> {
    let ok = (1..=MAX_PASSWORD_BYTES).contains(&password.len())
        && !password
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Problem::BadPassword)
    }
}

/// La clave con la que se busca un nombre: los nombres son únicos sin
/// distinguir mayúsculas, así que `Alice` y `alice` son la misma cuenta.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Largo de un token UDP en caracteres hexadecimales (128 bits).
pub const TOKEN_CHARS: usize = 32;

/// `true` si `text` tiene la forma de un token: 32 caracteres `0-9 a-f`.
pub fn is_token(text: &str) -> bool {
    text.len() == TOKEN_CHARS && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Separa un datagrama `<TOKEN> <línea>` en token y línea. Devuelve `None`
/// si la primera palabra no tiene forma de token (un datagrama de entrada:
/// `:register`, `:login`...).
pub fn split_token(datagram: &str) -> Option<(&str, &str)> {
    let (first, rest) = split_word(datagram);
    is_token(first).then_some((first, rest))
}

/// Primera palabra (hasta el primer espacio en blanco) y el resto sin los
/// espacios iniciales.
fn split_word(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim_start()),
        None => (line, ""),
    }
}

/// `:` seguido de una o más letras minúsculas ASCII.
fn is_command_word(word: &str) -> bool {
    word.strip_prefix(':')
        .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Separa destinatario y resto en las dos formas del contrato:
/// `- <user> - <resto>` (la del enunciado 004) y `<user> <resto>`.
fn split_target(args: &str) -> Option<(&str, &str)> {
    let dashed = args
        .strip_prefix('-')
        .filter(|a| a.is_empty() || a.starts_with(char::is_whitespace));
    let (to, rest) = match dashed {
        Some(after_dash) => {
            let (to, rest) = split_word(after_dash);
            let rest = rest.strip_prefix('-')?;
            (to, rest.trim_start())
        }
        None => split_word(args),
    };
    (!to.is_empty()).then_some((to, rest))
}

/// Solo dígitos ASCII (sin signo) que quepan en `u64`.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        match parse_command(line) {
            Ok(Some(c)) => c,
            other => panic!("{line:?} dio {other:?}"),
        }
    }

    fn err(line: &str) -> Problem {
        match parse_command(line) {
            Err(p) => p,
            other => panic!("{line:?} debía fallar y dio {other:?}"),
        }
    }

    #[test]
    fn sign_in_commands() {
        assert_eq!(
            cmd(":register alice s3cret"),
            Command::Register {
                name: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert_eq!(
            cmd("  :login Bob_1-x  pw  "),
            Command::Login {
                name: "Bob_1-x".into(),
                password: "pw".into()
            }
        );
        assert_eq!(
            err(":register alice"),
            Problem::Usage(USAGE_REGISTER.into())
        );
        assert_eq!(
            err(":register a b c"),
            Problem::Usage(USAGE_REGISTER.into())
        );
        assert_eq!(err(":login"), Problem::Usage(USAGE_LOGIN.into()));
        assert_eq!(err(":register al!ce pw"), Problem::BadName);
        assert_eq!(
            err(&format!(":register {} pw", "a".repeat(33))),
            Problem::BadName
        );
        assert_eq!(
            cmd(&format!(":register {} pw", "a".repeat(32))),
            Command::Register {
                name: "a".repeat(32),
                password: "pw".into()
            }
        );
        assert_eq!(
            cmd(":register ñandú pw"),
            Command::Register {
                name: "ñandú".into(),
                password: "pw".into()
            }
        );
        // Un acento combinante (e + U+0301) no: un nombre, una escritura.
        assert_eq!(err(":register Jose\u{301} pw"), Problem::BadName);
        assert_eq!(err(":register ça pw"), Problem::BadName);
        assert!(
            check_name(&"ñ".repeat(32)).is_ok(),
            "32 caracteres, 64 bytes"
        );
        assert!(check_name(&"ñ".repeat(33)).is_err());
        assert_eq!(
            err(&format!(":register al {}", "x".repeat(129))),
            Problem::BadPassword
        );
        // Al entrar, un nombre imposible no se distingue de uno inexistente.
        assert_eq!(err(":login al!ce pw"), Problem::BadCredentials);
    }

    #[test]
    fn private_messages_in_both_forms() {
        let expected = Command::Private {
            to: "bob".into(),
            text: "hola  mundo".into(),
        };
        assert_eq!(cmd(":p - bob - hola  mundo"), expected);
        assert_eq!(cmd(":p bob hola  mundo"), expected);
        assert_eq!(cmd(":p -  bob  -hola  mundo"), expected);
        assert_eq!(
            cmd(":p bob - hola"),
            Command::Private {
                to: "bob".into(),
                text: "- hola".into()
            }
        );
        for bad in [
            ":p",
            ":p bob",
            ":p - bob -",
            ":p - bob hola",
            ":p -",
            ":p bob   ",
        ] {
            assert_eq!(err(bad), Problem::Usage(USAGE_PRIVATE.into()), "{bad:?}");
        }
    }

    #[test]
    fn transfers_in_both_forms() {
        let expected = Command::Transfer {
            to: "bob".into(),
            amount: 100,
        };
        assert_eq!(cmd(":t - bob - 100"), expected);
        assert_eq!(cmd(":t bob 100"), expected);
        assert_eq!(
            cmd(&format!(":t bob {}", u64::MAX)),
            Command::Transfer {
                to: "bob".into(),
                amount: u64::MAX
            }
        );
        for bad in [
            ":t bob 0",
            ":t bob -5",
            ":t bob 1.5",
            ":t bob abc",
            ":t bob 1 2",
            ":t bob +5",
        ] {
            assert_eq!(err(bad), Problem::BadAmount, "{bad:?}");
        }
        assert_eq!(err(":t bob 18446744073709551616"), Problem::BadAmount);
        assert_eq!(err(":t bob"), Problem::Usage(USAGE_TRANSFER.into()));
        assert_eq!(err(":t"), Problem::Usage(USAGE_TRANSFER.into()));
    }

    #[test]
    fn simple_commands_take_no_arguments() {
        assert_eq!(cmd(":u"), Command::Users);
        assert_eq!(cmd(":funds"), Command::Funds);
        assert_eq!(cmd(":help"), Command::Help);
        assert_eq!(cmd(":q"), Command::Quit);
        assert_eq!(cmd(":ping"), Command::Ping);
        assert_eq!(cmd(" :q "), Command::Quit);
        assert_eq!(err(":q now"), Problem::Usage(":q".into()));
        assert_eq!(err(":funds 3"), Problem::Usage(":funds".into()));
    }

    #[test]
    fn unknown_commands_and_plain_text() {
        assert_eq!(err(":quit"), Problem::UnknownCommand(":quit".into()));
        assert_eq!(err(":xyz hola"), Problem::UnknownCommand(":xyz".into()));
        for text in [
            "hola",
            ":)",
            ":D",
            ":S",
            ":-)",
            "::",
            ":Q",
            "a :q",
            ":smile",
            ":angry hola",
        ] {
            assert_eq!(cmd(text), Command::Public(text.into()), "{text:?}");
        }
        assert_eq!(parse_command(""), Ok(None));
        assert_eq!(parse_command("   "), Ok(None));
    }

    #[test]
    fn emojis_replace_whole_words_only() {
        assert_eq!(render_text(":smile"), ":~)");
        assert_eq!(render_text("hola :angry y :confused"), "hola >:( y :S");
        assert_eq!(
            render_text(":smiley :smile! x:smile"),
            ":smiley :smile! x:smile"
        );
        // Los espacios repetidos se juntan en uno.
        assert_eq!(render_text("a  :smile  b"), "a :~) b");
    }

    #[test]
    fn control_characters_are_removed_and_spaces_collapse() {
        assert_eq!(render_text("ho\x1b[2Jla\x07\r"), "ho[2Jla");
        assert_eq!(render_text("a\tb"), "a b");
        assert_eq!(render_text("\u{9b}31m ñandú"), "31m ñandú");
        // Con 80 espacios, el texto falso empezaría en la columna 0.
        let spoof = format!("ok{}[SERVER] Client: x", " ".repeat(78));
        assert_eq!(render_text(&spoof), "ok [SERVER] Client: x");
        assert_eq!(render_text("  hola   mundo  "), "hola mundo");
        assert_eq!(
            render_text("a\u{2028}[SERVER] b\u{2029}c"),
            "a [SERVER] b c"
        );
        // Los emojis siguen funcionando entre espacios juntados.
        assert_eq!(render_text("hola   :smile\t:angry"), "hola :~) >:(");
        assert_eq!(render_text("ñandú José"), "ñandú José");
    }

    #[test]
    fn balances_and_amounts() {
        assert_eq!(parse_balance("50000"), Ok(50000));
        assert_eq!(parse_balance(" 0 "), Ok(0));
        assert_eq!(parse_balance(&u64::MAX.to_string()), Ok(u64::MAX));
        for bad in ["", "-1", "50.000", "abc", "18446744073709551616", "5 0"] {
            assert_eq!(parse_balance(bad), Err(Problem::BadBalance), "{bad:?}");
        }
    }

    #[test]
    fn exact_contract_strings() {
        let cases = [
            (Event::Welcome, "Welcome to the best chat in the universe!"),
            (Event::AskBalance, "[SERVER] Client: What is your balance?"),
            (
                Event::Replaced,
                "[SERVER] Client: You signed in from another address, so this session was closed.",
            ),
            (
                Event::BalanceSet(50000),
                "[SERVER] Client: The balance of 50000 has been set to your account.",
            ),
            (
                Event::Funds(3000),
                "[SERVER] Client: You have 3000 dollars.",
            ),
            (
                Event::Connected("alice".into()),
                "[SERVER] Client: alice connected!",
            ),
            (
                Event::Disconnected("alice".into()),
                "[SERVER] Client: alice disconnected!",
            ),
            (
                Event::Public {
                    from: "alice".into(),
                    text: "hola".into(),
                },
                "alice: hola",
            ),
            (
                Event::Private {
                    from: "alice".into(),
                    text: "hola".into(),
                },
                "[PRIVATE] alice: hola",
            ),
            (
                Event::Users(vec!["alice".into(), "bob".into(), "carol".into()]),
                "[SERVER] Client: Connected users: alice, bob, carol",
            ),
            (
                Event::TransferSent {
                    to: "bob".into(),
                    amount: 100,
                    balance: 2900,
                },
                "[SERVER] Client: You transferred 100 dollars to bob. You have 2900 dollars.",
            ),
            (
                Event::TransferReceived {
                    from: "alice".into(),
                    amount: 100,
                    balance: 600,
                },
                "[SERVER] Client: alice transferred 100 dollars to you. You have 600 dollars.",
            ),
            (
                Event::Error(Problem::InsufficientFunds),
                "[SERVER] Client: You don't have sufficient funds for the transaction.",
            ),
            (
                Event::Goodbye,
                "You have been disconnected from the best chat in the universe!",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(event.to_string(), line);
            assert_eq!(event.to_line(), format!("{line}\n"));
        }
    }

    #[test]
    fn every_event_round_trips() {
        let name = || "Bob_2".to_string();
        let problems = vec![
            Problem::NotSignedIn,
            Problem::AlreadySignedIn(name()),
            Problem::BadName,
            Problem::BadPassword,
            Problem::NameTaken(name()),
            Problem::BadCredentials,
            Problem::AlreadyConnected(name()),
            Problem::BadBalance,
            Problem::NotConnected(name()),
            Problem::NoAccount(name()),
            Problem::NoBalanceYet(name()),
            Problem::InsufficientFunds,
            Problem::BadAmount,
            Problem::Overflow(name()),
            Problem::SelfTransfer,
            Problem::UnknownCommand(":xyz".into()),
            Problem::Usage(USAGE_TRANSFER.into()),
            Problem::LineTooLong,
            Problem::InvalidUtf8,
            Problem::StorageFailed,
            Problem::BadToken,
            Problem::TokenFirst,
            Problem::OneLinePerDatagram,
        ];
        let mut events = vec![
            Event::Prompt,
            Event::Welcome,
            Event::AskBalance,
            Event::BalanceSet(0),
            Event::Funds(u64::MAX),
            Event::Connected(name()),
            Event::Disconnected(name()),
            Event::Public {
                from: name(),
                text: "a: b :~) [SERVER] Client: x".into(),
            },
            Event::Private {
                from: name(),
                text: "dólar: ñ".into(),
            },
            Event::Public {
                from: name(),
                text: String::new(),
            },
            Event::Users(vec![]),
            Event::Users(vec![name(), "z".into()]),
            Event::TransferSent {
                to: name(),
                amount: 1,
                balance: 2,
            },
            Event::TransferReceived {
                from: name(),
                amount: 3,
                balance: 4,
            },
            Event::Help(String::new()),
            Event::Help(":stats (server statistics), ".into()),
            Event::Goodbye,
            Event::Token("0123456789abcdef0123456789abcdef".into()),
            Event::UdpToken("ffffffffffffffffffffffffffffffff".into()),
            Event::Pong,
            Event::Replaced,
            Event::Notice("Stats: threads=3 users=1".into()),
        ];
        events.extend(problems.into_iter().map(Event::Error));
        for event in events {
            let line = event.to_string();
            assert!(!line.contains('\n'), "{line:?}");
            assert_eq!(Event::parse(&line), Some(event), "{line:?}");
        }
    }

    #[test]
    fn an_address_needs_its_port() {
        for good in ["127.0.0.1:5500", "[::1]:0", "localhost:80"] {
            assert_eq!(host_and_port(good).as_deref(), Ok(good));
        }
        let missing = host_and_port("127.0.0.1").expect_err("sin puerto");
        assert!(missing.contains("falta el puerto"), "{missing}");
        assert!(missing.contains("127.0.0.1:5500"), "{missing}");
        for bad in ["127.0.0.1:", ":5500", "", "[::1]"] {
            assert!(host_and_port(bad).is_err(), "{bad:?}");
        }
        let port = host_and_port("127.0.0.1:99999").expect_err("puerto grande");
        assert!(port.contains("0 a 65535"), "{port}");
    }

    #[test]
    fn a_new_name_starts_with_a_letter() {
        for good in ["ana", "Ñandú", "x-1", "Ana_Paz", "Servidor", "Clientes"] {
            assert_eq!(check_new_name(good), Ok(()), "{good}");
        }
        for bad in ["-", "--", "_", "-_-", "1ana", "_ana"] {
            assert_eq!(check_new_name(bad), Err(Problem::BadName), "{bad}");
            assert_eq!(
                check_name(bad),
                Ok(()),
                "una cuenta vieja {bad} sigue entrando"
            );
        }
        assert_eq!(parse_command(":register - clave"), Err(Problem::BadName));
        assert!(matches!(
            parse_command(":login - clave"),
            Ok(Some(Command::Login { .. }))
        ));
    }

    #[test]
    fn foreign_lines_are_not_events() {
        for line in ["", "hola", "bad name!: x", "[PRIVATE] x"] {
            assert_eq!(Event::parse(line), None, "{line:?}");
        }
        // Un aviso del servidor que el curso no conoce es solo eso.
        assert_eq!(
            Event::parse("[SERVER] Client: what?"),
            Some(Event::Notice("what?".into()))
        );
    }

    #[test]
    fn name_keys_ignore_case() {
        assert_eq!(name_key("AliCe"), name_key("alice"));
        assert_eq!(name_key("BEGOÑA"), name_key("Begoña"));
        assert!(check_name("a").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("you").is_err());
        assert!(check_name("ME").is_err());
        assert!(check_name("Yours").is_ok());
    }

    #[test]
    fn tokens_prefix_udp_datagrams() {
        let token = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            split_token(&format!("{token} hola  mundo")),
            Some((token, "hola  mundo"))
        );
        assert_eq!(
            split_token(&format!("{token} :t bob 5")),
            Some((token, ":t bob 5"))
        );
        assert_eq!(split_token(token), Some((token, "")));
        assert_eq!(split_token(":login alice pw"), None);
        assert_eq!(split_token("0123456789ABCDEF0123456789ABCDEF hola"), None);
        assert_eq!(split_token("0123456789abcdef hola"), None);
        assert_eq!(
            Event::Token(token.into()).to_string(),
            format!("[SERVER] Client: Your token is {token}.")
        );
        assert_eq!(
            Event::UdpToken(token.into()).to_string(),
            format!("[SERVER] Client: Your UDP token is {token}.")
        );
    }
}
