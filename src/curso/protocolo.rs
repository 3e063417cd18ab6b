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

use std::fmt;

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

/// Las palabras que el protocolo imprime en sus propias líneas
/// (`[SERVER] Client: ...`, `[PRIVATE] ...`): un usuario con ese nombre
/// haría que sus mensajes se lean como del servidor. Ninguna cuenta nueva
/// se llama así, sin distinguir mayúsculas (ver [`check_new_name`]).
pub const PROTOCOL_WORDS: [&str; 3] = ["SERVER", "PRIVATE", "Client"];

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
    /// las letras de [`SPANISH_LETTERS`]; uno nuevo empieza con una letra.
    BadName,
    /// Un `:register` con una palabra que el protocolo imprime
    /// ([`PROTOCOL_WORDS`]) como nombre (lleva el nombre).
    ReservedName(String),
    /// Contraseña vacía, con espacios o de más de 128 bytes.
    BadPassword,
    /// El nombre ya tiene cuenta (sin distinguir mayúsculas).
    NameTaken(String),
    /// El nombre se parece demasiado al de una cuenta que ya existe (mismo
    /// [`name_skeleton`]: `aIice` junto a `alice`, `José` junto a `Jose`).
    /// No se dice cuál, para no revelar qué cuentas hay.
    NameTooSimilar(String),
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
    /// Un datagrama pasó el límite de líneas por segundo del usuario (lleva
    /// el límite, `--max-lines-per-sec`) y se descartó: por UDP no hay cómo
    /// frenar al emisor (por TCP, ver [`Event::Paced`]). Se avisa una vez
    /// por ráfaga: un aviso por datagrama descartado sería otra inundación.
    TooFast(u32),
    /// La dirección IP del cliente está bloqueada por contraseñas fallidas:
    /// lleva los segundos que faltan (`--max-signin-failures-per-ip`).
    SigninBlocked(u64),
    /// La cuenta está bloqueada por contraseñas fallidas, vengan de donde
    /// vengan: lleva los segundos que faltan (`--max-signin-failures`).
    /// Un nombre que no existe se bloquea igual, así que la
    /// respuesta no dice qué cuentas hay.
    AccountBlocked(u64),
    /// La dirección IP del cliente creó demasiadas cuentas seguidas: lleva
    /// los segundos que faltan (`--max-registrations-per-ip`).
    TooManyAccounts(u64),
}

/// Lo que el servidor le dice a un cliente: cada evento es exactamente una
/// línea de texto (sin el `\n`, que agrega [`Event::to_line`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Primera línea al conectar: cómo iniciar sesión (si el servidor no
    /// tiene plazo para hacerlo, `--signin-timeout-secs 0`).
    Prompt,
    /// Primera línea al conectar, con el plazo para iniciar sesión en
    /// segundos: `... <password>. You have 60 seconds to sign in.` (el
    /// plazo se anuncia antes de vencer, no solo al cerrar: quien se entera
    /// al ver el corte ya perdió lo que escribía).
    PromptWithin(u64),
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
    /// La lista de comandos, en una sola línea.
    Help,
    /// `You have been disconnected from the best chat in the universe!`
    Goodbye,
    /// `[SERVER] Client: Your token is <TOKEN>.`: tras entrar por UDP.
    Token(String),
    /// `[SERVER] Client: Your UDP token is <TOKEN>.`: tras entrar por TCP.
    UdpToken(String),
    /// `[SERVER] Client: pong`: respuesta a `:ping`.
    Pong,
    /// `[SERVER] Client: The server is full, try again later.`: a una
    /// conexión que pasa de `--max-clients`, justo antes de cerrarla.
    ServerFull,
    /// `[SERVER] Client: There are too many connections from your address,
    /// try again later.`: a una conexión de más desde una misma dirección IP
    /// (`--max-clients-per-ip`): mil sockets quietos desde una sola máquina
    /// no dejan afuera a los demás.
    TooManyFromAddress,
    /// `[SERVER] Client: You did not sign in within N seconds, so the
    /// connection was closed.`: a una conexión que no inició sesión a
    /// tiempo (`--signin-timeout-secs`).
    SigninTimeout(u64),
    /// `[SERVER] Client: The server is shutting down.`: a todos, al
    /// apagarse con SIGINT o SIGTERM.
    ShuttingDown,
    /// `[SERVER] Client: You signed in from another address, so this
    /// session was closed.`: a una sesión solo-UDP cuando su dueño entra
    /// desde otro lugar (UDP no tiene conexión que se corte: quien cerró
    /// `nc -u` no avisó, y la contraseña prueba que es el mismo).
    Replaced,
    /// `[SERVER] Client: You are sending faster than N lines per second;
    /// your lines are being delayed.`: a quien envía por TCP más de
    /// `--max-lines-per-sec` líneas, la primera vez en cada ráfaga. Sus
    /// líneas no se pierden: el servidor deja de leerlas hasta que le toca,
    /// y el control de flujo de TCP frena al emisor (RFC 1459 §8.10).
    Paced(u32),
    /// `[SERVER] Client: Too many failed sign-ins, so the connection was
    /// closed.`: tras `--max-signin-failures` contraseñas fallidas en una
    /// conexión.
    TooManyFailures,
    /// `[SERVER] Client: Stats: clave=valor ...`: una línea de la respuesta a
    /// `:stats`, con pares `clave=valor` separados por espacios.
    Stats(String),
    /// Un error, como aviso del servidor.
    Error(Problem),
}

// ------------------------------------------------------------------
// Las plantillas de los avisos: cada texto del protocolo está escrito una
// sola vez, aquí. `{}` es un hueco (un nombre, un número, un token...).
// De cada plantilla salen las dos direcciones: escribir el aviso
// (`Display`, con [`fill`]) y reconocerlo (`Event::parse`, con [`holes`]).

const PROMPT_TEXT: &str =
    "Sign in with :login <name> <password> or create an account with :register <name> <password>.";
const HELP_TEXT: &str = "Commands: <text> (public message), :p <user> <message> (private message), \
:u (connected users), :funds (your balance), :t <user> <amount> (transfer dollars), \
:smile :angry :confused (emojis), :stats (server statistics), :help (this list), :q (quit).";
const PROMPT_WITHIN: &str = "{} You have {} seconds to sign in.";
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
const STATS: &str = "Stats: {}";
const SERVER_FULL: &str = "The server is full, try again later.";
const TOO_MANY_FROM_ADDRESS: &str =
    "There are too many connections from your address, try again later.";
const SIGNIN_TIMEOUT: &str = "You did not sign in within {} seconds, so the connection was closed.";
const SHUTTING_DOWN: &str = "The server is shutting down.";
const REPLACED: &str = "You signed in from another address, so this session was closed.";
const PACED: &str =
    "You are sending faster than {} lines per second; your lines are being delayed.";
const TOO_MANY_FAILURES: &str = "Too many failed sign-ins, so the connection was closed.";

const NOT_SIGNED_IN: &str = "You are not signed in. {}";
const ALREADY_SIGNED_IN: &str = "You are already signed in as {}.";
const BAD_NAME: &str = "Names have 1 to {} characters and start with a letter: letters A-Z and a-z (also á é í ó ú ü ñ), \
digits, _ and -; Me and You are reserved.";
const RESERVED_NAME: &str =
    "The name {} is reserved: the chat prints it in its own lines. Choose another.";
const BAD_PASSWORD: &str = "Passwords have 1 to {} bytes and no spaces.";
const NAME_TAKEN: &str = "The name {} is already taken.";
const NAME_TOO_SIMILAR: &str = "The name {} is too similar to an existing one. Choose another.";
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
const TOO_FAST: &str =
    "You are sending too fast: the limit is {} lines per second. Lines over it are discarded.";
const SIGNIN_BLOCKED: &str = "Too many failed sign-ins from your address. Try again in {} seconds.";
const ACCOUNT_BLOCKED: &str = "Too many failed sign-ins for this account. Try again in {} seconds.";
const TOO_MANY_ACCOUNTS: &str = "Too many new accounts from your address. Try again in {} seconds.";

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
/// y `:t - 5` parecería un error de uso) y no ser una palabra del
/// protocolo ([`PROTOCOL_WORDS`]). Las cuentas que ya existían con un
/// nombre así siguen entrando: `:login` usa [`check_name`]. Errores:
/// [`Problem::BadName`], [`Problem::ReservedName`].
pub fn check_new_name(name: &str) -> Result<(), Problem> {
    check_name(name)?;
    if !name.chars().next().is_some_and(char::is_alphabetic) {
        return Err(Problem::BadName);
    }
    if PROTOCOL_WORDS.iter().any(|w| w.eq_ignore_ascii_case(name)) {
        return Err(Problem::ReservedName(name.to_string()));
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

/// El "esqueleto" de un nombre: cómo se ve, más que cómo se escribe. En
/// minúsculas, sin acentos (`é` → `e`, `ñ` → `n`), y con los parecidos de
/// siempre unificados: `i`, `l` y `1` → `l` (una `I` mayúscula se ve como
/// una `l`), `0` → `o`, `rn` → `m`, `vv` → `w`. Dos nombres con el mismo
/// esqueleto se confunden en la pantalla: `aIice` y `alice`, `rnallory` y
/// `mallory`, `José` y `Jose`. Es la idea de los *confusable skeletons* de
/// Unicode TR39, reducida a las letras que permite [`check_name`].
pub fn name_skeleton(name: &str) -> String {
    let plain: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' | 'i' | '1' => 'l',
            'ó' | '0' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            c => c,
        })
        .collect();
    plain.replace("rn", "m").replace("vv", "w")
}

/// Prepara el texto de un mensaje tal como lo verán los demás, para que
/// nada en él pueda pasar por una línea del servidor o un privado ajeno:
///
/// - quita los caracteres de control (un `ESC` podría manejar la terminal
///   ajena, un `\r` volvería al principio de la línea para escribir
///   `[SERVER]` encima del nombre), los de dirección del texto
///   ([`is_bidi_control`]) y los invisibles ([`is_invisible`]: los que
///   Unicode dice que no se dibujan, rellenos y caracteres de formato);
/// - junta cada tramo de lo que se ve en blanco ([`looks_blank`]: espacios,
///   tabuladores, espacios de otros anchos, el braille vacío) en **un**
///   espacio y quita los de los extremos: con 80 espacios, un texto falso
///   empezaría en la columna 0 de la línea siguiente de una terminal de 80
///   columnas;
/// - reemplaza cada emoji que aparece como palabra completa (`:smile` →
///   `:~)`).
///
/// Devuelve el texto listo; puede quedar vacío si solo había controles o
/// espacio.
pub fn render_text(text: &str) -> String {
    // Los controles que son espacio (el tabulador) cuentan como espacio.
    // Ningún carácter ASCII es de formato ni invisible: para ellos (casi
    // todo el texto de un chat) no se consultan las tablas de Unicode.
    let hidden = |c: char| {
        (c.is_control() && !c.is_whitespace())
            || (!c.is_ascii() && (is_bidi_control(c) || is_invisible(c)))
    };
    let clean: String = text.chars().filter(|&c| !hidden(c)).collect();
    clean
        .split(looks_blank)
        .filter(|word| !word.is_empty())
        .map(|word| {
            EMOJIS
                .iter()
                .find(|(emoji, _)| *emoji == word)
                .map_or(word, |(_, face)| *face)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `true` para lo que una terminal dibuja como espacio en blanco: los
/// caracteres con la propiedad `White_Space` de Unicode (es lo que mira
/// [`char::is_whitespace`]: el espacio, el tabulador, U+00A0, U+2000 a
/// U+200A, U+3000, los separadores de línea y de párrafo...) y U+2800, el
/// braille sin puntos, que Unicode no cuenta como espacio pero se ve igual.
pub fn looks_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{2800}'
}

/// `true` para los caracteres que no se ven pero ocupan (o parten) el
/// texto, y se quitan:
///
/// - los que Unicode marca `Default_Ignorable_Code_Point` (UAX #44, los
///   que un programa que no los entiende no dibuja): los de ancho cero
///   (U+200B a U+200D, U+2060 a U+2064, U+FEFF), el guion opcional
///   (U+00AD), los rellenos de Hangul que se ven como espacio (U+115F,
///   U+1160, U+3164, U+FFA0), los selectores de variante y las etiquetas;
/// - los de formato (categoría general `Cf`), como los de anotación
///   interlineal (U+FFF9 a U+FFFB), que algunas terminales muestran en
///   blanco.
///
/// También se quita así el ZWJ (U+200D), que une emojis en uno (la
/// familia 👨‍👩‍👧 se ve como tres caras): una familia partida es mejor
/// que un texto que engaña. Se busca en [`INVISIBLE`] (búsqueda binaria
/// entre 25 tramos).
pub fn is_invisible(c: char) -> bool {
    INVISIBLE
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Los caracteres invisibles de [`is_invisible`], en tramos ordenados (el
/// primero y el último de cada uno, incluidos): la unión de
/// `Default_Ignorable_Code_Point` y la categoría `Cf` según los datos de
/// Unicode (UAX #44). Es una tabla de datos, no un juicio: la prueba
/// `the_invisible_table_is_unicodes` la compara, tramo por tramo, con la de
/// `icu_properties` (del proyecto ICU4X del Consorcio Unicode) y, si una
/// versión nueva de Unicode la cambia, falla e imprime la tabla nueva para
/// pegarla aquí. Así el servidor no carga con esa biblioteca.
pub const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// `true` para los caracteres invisibles que cambian la dirección del
/// texto (Unicode UAX #9: LRM, RLM, ALM, LRE...RLO, LRI...PDI). Con un
/// `U+202E` (RLO), `alice: ]REVRES[` se vería al revés en la terminal ajena.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl Event {
    /// La línea que viaja por el socket, con su `\n` final, en bytes UTF-8.
    pub fn to_line(&self) -> String {
        let mut line = self.to_string();
        line.push('\n');
        line
    }

    /// Reconoce una línea del servidor (sin `\n`). Es la inversa de
    /// `to_string`: `Event::parse(&e.to_string()) == Some(e)` para todo evento
    /// con nombres válidos. Devuelve `None` si la línea no es de este protocolo.
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
        read(NOTICES, notice).or_else(|| Problem::parse(notice).map(Event::Error))
    }
}

/// Cómo se reconoce cada aviso: su plantilla y cómo armar el evento con lo
/// que quedó en sus huecos (`None` si un hueco no tiene la forma debida,
/// como un nombre inválido). Se prueban en orden; la primera que encaja gana.
type Reader<T> = fn(&[&str]) -> Option<T>;

const NOTICES: &[(&str, Reader<Event>)] = &[
    (PROMPT_TEXT, |_| Some(Event::Prompt)),
    (PROMPT_WITHIN, |h| {
        fixed(h[0], PROMPT_TEXT, Event::PromptWithin(number(h[1])?))
    }),
    (ASK_BALANCE, |_| Some(Event::AskBalance)),
    (PONG, |_| Some(Event::Pong)),
    (HELP_TEXT, |_| Some(Event::Help)),
    (SERVER_FULL, |_| Some(Event::ServerFull)),
    (TOO_MANY_FROM_ADDRESS, |_| Some(Event::TooManyFromAddress)),
    (SHUTTING_DOWN, |_| Some(Event::ShuttingDown)),
    (REPLACED, |_| Some(Event::Replaced)),
    (TOO_MANY_FAILURES, |_| Some(Event::TooManyFailures)),
    (SIGNIN_TIMEOUT, |h| {
        Some(Event::SigninTimeout(number(h[0])?))
    }),
    (PACED, |h| Some(Event::Paced(number(h[0])?))),
    (USERS, |h| Some(Event::Users(names(h[0])?))),
    (STATS, |h| Some(Event::Stats(h[0].into()))),
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
    (RESERVED_NAME, |h| Some(Problem::ReservedName(name(h[0])?))),
    (BAD_PASSWORD, |h| {
        fixed(h[0], MAX_PASSWORD_BYTES, Problem::BadPassword)
    }),
    (NAME_TAKEN, |h| Some(Problem::NameTaken(name(h[0])?))),
    (NAME_TOO_SIMILAR, |h| {
        Some(Problem::NameTooSimilar(name(h[0])?))
    }),
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
    (TOO_FAST, |h| Some(Problem::TooFast(number(h[0])?))),
    (SIGNIN_BLOCKED, |h| {
        Some(Problem::SigninBlocked(number(h[0])?))
    }),
    (ACCOUNT_BLOCKED, |h| {
        Some(Problem::AccountBlocked(number(h[0])?))
    }),
    (TOO_MANY_ACCOUNTS, |h| {
        Some(Problem::TooManyAccounts(number(h[0])?))
    }),
];

/// Lee `text` con la primera plantilla de `table` que encaje.
fn read<T>(table: &[(&str, Reader<T>)], text: &str) -> Option<T> {
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
fn fill(f: &mut fmt::Formatter<'_>, template: &str, values: &[&dyn fmt::Display]) -> fmt::Result {
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

fn number<N: TryFrom<u64>>(text: &str) -> Option<N> {
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
            Problem::NameTooSimilar(name) => fill(f, NAME_TOO_SIMILAR, &[name]),
            Problem::ReservedName(name) => fill(f, RESERVED_NAME, &[name]),
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
            Problem::TooFast(n) => fill(f, TOO_FAST, &[n]),
            Problem::SigninBlocked(secs) => fill(f, SIGNIN_BLOCKED, &[secs]),
            Problem::AccountBlocked(secs) => fill(f, ACCOUNT_BLOCKED, &[secs]),
            Problem::TooManyAccounts(secs) => fill(f, TOO_MANY_ACCOUNTS, &[secs]),
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
            Event::PromptWithin(secs) => fill(f, PROMPT_WITHIN, &[&PROMPT_TEXT, secs]),
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
            Event::Help => f.write_str(HELP_TEXT),
            Event::Token(token) => fill(f, TOKEN, &[token]),
            Event::UdpToken(token) => fill(f, UDP_TOKEN, &[token]),
            Event::Pong => f.write_str(PONG),
            Event::Stats(fields) => fill(f, STATS, &[fields]),
            Event::ServerFull => f.write_str(SERVER_FULL),
            Event::TooManyFromAddress => f.write_str(TOO_MANY_FROM_ADDRESS),
            Event::SigninTimeout(secs) => fill(f, SIGNIN_TIMEOUT, &[secs]),
            Event::ShuttingDown => f.write_str(SHUTTING_DOWN),
            Event::Replaced => f.write_str(REPLACED),
            Event::Paced(n) => fill(f, PACED, &[n]),
            Event::TooManyFailures => f.write_str(TOO_MANY_FAILURES),
            Event::Error(problem) => problem.fmt(f),
            Event::Welcome | Event::Goodbye | Event::Public { .. } | Event::Private { .. } => {
                Ok(())
            }
        }
    }
}

/// Una duración en segundos enteros, redondeada hacia arriba, para los
/// avisos de espera: "Try again in 0 seconds" sería falso mientras quede
/// medio segundo.
pub fn whole_seconds(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
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

// La cookie del programa completo: el servidor pide con ella que una
// dirección UDP pruebe que recibe (y la calcula). Sus dos
// líneas son parte del protocolo, porque el cliente las reconoce y repite
// su datagrama con la cookie delante; el servidor del curso no las envía.

/// Largo de una cookie, en caracteres hexadecimales (64 bits): corta, para
/// que la respuesta a un pedido chico quepa en el triple de su tamaño.
pub const COOKIE_CHARS: usize = 16;

/// `true` si `text` tiene la forma de una cookie: 16 caracteres `0-9 a-f`.
pub fn is_cookie(text: &str) -> bool {
    text.len() == COOKIE_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Separa una cookie al principio de un datagrama: `<COOKIE> <resto>` →
/// `(cookie, resto)`. `None` si no empieza con algo de forma de cookie.
pub fn split_cookie(text: &str) -> Option<(&str, &str)> {
    let (first, rest) = text.split_once(' ')?;
    is_cookie(first).then_some((first, rest))
}

/// La frase de la cookie, sin el prefijo de los avisos: la única
/// respuesta a un `:login` o `:register` por UDP desde una dirección que
/// todavía no probó que recibe; el cliente repite su datagrama con la
/// cookie delante (`<COOKIE> :login bob clave`).
const COOKIE_NOTICE: &str = ", resend with it first.";

/// La forma corta empieza igual que la frase: `Cookie <COOKIE>`.
const COOKIE_SHORT: &str = "Cookie ";

/// `[SERVER] Client: Cookie <COOKIE>, resend with it first.` y su `\n`.
pub fn cookie_notice_line(cookie: &str) -> String {
    format!("{SERVER_PREFIX}{COOKIE_SHORT}{cookie}{COOKIE_NOTICE}\n")
}

/// `Cookie <COOKIE>` y su `\n`: 24 bytes, la forma más corta de la cookie,
/// para un datagrama tan chico que la frase entera ([`cookie_notice_line`]) no
/// cabe en el triple de lo que midió (el límite anti-amplificación, RFC 9000
/// §8.1): `:login ana 1234` con `nc -u` mide 16 bytes, y un datagrama de 8
/// bytes o más recibe así siempre respuesta.
pub fn cookie_short_line(cookie: &str) -> String {
    format!("{COOKIE_SHORT}{cookie}\n")
}

/// La cookie de una línea del servidor (sin `\n`), en cualquiera de sus
/// dos formas; `None` si la línea no trae una cookie, o trae algo que no
/// tiene su forma (así nadie la confunde con el mensaje de un usuario).
pub fn cookie_from_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(SERVER_PREFIX).unwrap_or(line);
    let rest = rest.strip_prefix(COOKIE_SHORT)?;
    let cookie = rest.strip_suffix(COOKIE_NOTICE).unwrap_or(rest);
    let whole = line.starts_with(SERVER_PREFIX) == rest.ends_with(COOKIE_NOTICE);
    (whole && is_cookie(cookie)).then_some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
    use icu_properties::{CodePointMapData, CodePointSetData};

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
    fn control_characters_are_removed() {
        assert_eq!(render_text("ho\x1b[2Jla\x07\r"), "ho[2Jla");
        assert_eq!(render_text("a\tb"), "a b");
        assert_eq!(render_text("\u{9b}31m ñandú"), "31m ñandú");
        assert_eq!(
            render_text("\u{202E}]REVRES[\u{2066}x\u{200F}"),
            "]REVRES[x"
        );
    }

    #[test]
    fn whitespace_collapses_and_invisible_characters_go() {
        // Con 80 espacios, el texto falso empezaría en la columna 0.
        let spoof = format!(
            "ok{}[SERVER] Client: carol transferred 5000 dollars to you.{}[PRIVATE] carol: hola",
            " ".repeat(78),
            "\u{3000}\u{00A0}\t ".repeat(20)
        );
        assert_eq!(
            render_text(&spoof),
            "ok [SERVER] Client: carol transferred 5000 dollars to you. [PRIVATE] carol: hola"
        );
        assert_eq!(render_text("  hola   mundo  "), "hola mundo");
        assert_eq!(
            render_text("a\u{2028}[SERVER] b\u{2029}c"),
            "a [SERVER] b c"
        );
        assert_eq!(
            render_text("\u{200B}a\u{200C}\u{200D}b\u{2060}c\u{FEFF}\u{00AD}d\u{3164}"),
            "abcd"
        );
        assert_eq!(render_text("\u{3164} \u{200B} "), "");
        // Los emojis siguen funcionando entre espacios juntados.
        assert_eq!(render_text("hola   :smile\t:angry"), "hola :~) >:(");
        assert_eq!(render_text("ñandú José"), "ñandú José");
    }

    /// Todo carácter que se ve en blanco, o no se ve, se junta como un
    /// espacio o se quita: se recorre la lista entera, tomada de los datos
    /// de Unicode (no de la implementación): `White_Space`,
    /// `Default_Ignorable_Code_Point`, la categoría `Cf`, el braille vacío y
    /// los rellenos de Hangul.
    /// [`INVISIBLE`] es exactamente lo que Unicode dice: la unión de
    /// `Default_Ignorable_Code_Point` y `Cf`, según `icu_properties`. Si
    /// no, imprime la tabla correcta.
    #[test]
    fn the_invisible_table_is_unicodes() {
        let mut ranges: Vec<(char, char)> = Vec::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let invisible = CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
                || CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format;
            if !invisible {
                continue;
            }
            match ranges.last_mut() {
                Some((_, last)) if u32::from(*last) + 1 == u32::from(c) => *last = c,
                _ => ranges.push((c, c)),
            }
        }
        let table: String = ranges
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (u32::from(a), u32::from(b));
                format!("    ('\\u{{{a:04X}}}', '\\u{{{b:04X}}}'),\n")
            })
            .collect();
        assert!(
            INVISIBLE == ranges.as_slice(),
            "INVISIBLE no es la de Unicode; la nueva es:\n{table}"
        );
    }

    #[test]
    fn every_character_that_renders_blank_collapses_or_goes() {
        use icu_properties::props::WhiteSpace;
        let set = |ranges: &mut dyn Iterator<Item = std::ops::RangeInclusive<u32>>| {
            ranges
                .flatten()
                .filter_map(char::from_u32)
                .collect::<Vec<_>>()
        };
        let white = set(&mut CodePointSetData::new::<WhiteSpace>().iter_ranges());
        let ignorable =
            set(&mut CodePointSetData::new::<DefaultIgnorableCodePoint>().iter_ranges());
        let format: Vec<char> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| {
                CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
            })
            .collect();
        let named = [
            '\u{2800}', '\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{FFF9}', '\u{FFFA}',
            '\u{FFFB}',
        ];
        // Los datos de Unicode tienen lo que se espera de ellos.
        assert!(white.len() >= 25 && white.contains(&'\u{3000}'));
        assert!(ignorable.len() > 4000 && ignorable.contains(&'\u{3164}'));
        assert!(format.contains(&'\u{FFF9}') && format.contains(&'\u{200B}'));
        // `render_text` no consulta las tablas para el ASCII.
        assert!(ignorable.iter().chain(&format).all(|c| !c.is_ascii()));
        let all = white.iter().chain(&ignorable).chain(&format).chain(&named);
        let mut walked = 0;
        for &c in all {
            let pad = c.to_string().repeat(80);
            let seen = render_text(&format!("ok{pad}[SERVER] Client: x"));
            assert!(
                seen == "ok[SERVER] Client: x" || seen == "ok [SERVER] Client: x",
                "U+{:04X}: {seen:?}",
                u32::from(c)
            );
            walked += 1;
        }
        assert!(walked > 4000);
        // Lo que se ve sigue viéndose.
        assert_eq!(render_text("ñ ❤ 😀 ⠁ 한"), "ñ ❤ 😀 ⠁ 한");
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
                Event::ServerFull,
                "[SERVER] Client: The server is full, try again later.",
            ),
            (
                Event::ShuttingDown,
                "[SERVER] Client: The server is shutting down.",
            ),
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
            Problem::NameTooSimilar("José".into()),
            Problem::ReservedName("Server".into()),
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
            Problem::TooFast(20),
            Problem::SigninBlocked(30),
            Problem::AccountBlocked(60),
            Problem::TooManyAccounts(90),
        ];
        let mut events = vec![
            Event::Prompt,
            Event::PromptWithin(60),
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
            Event::Help,
            Event::Goodbye,
            Event::Token("0123456789abcdef0123456789abcdef".into()),
            Event::UdpToken("ffffffffffffffffffffffffffffffff".into()),
            Event::Pong,
            Event::Stats("threads=3 users=1".into()),
            Event::ServerFull,
            Event::TooManyFromAddress,
            Event::SigninTimeout(60),
            Event::ShuttingDown,
            Event::Replaced,
            Event::Paced(20),
            Event::TooManyFailures,
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
    fn a_new_name_starts_with_a_letter_and_is_not_a_word_of_the_protocol() {
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
        for word in ["SERVER", "server", "Private", "CLIENT", "client"] {
            assert_eq!(
                check_new_name(word),
                Err(Problem::ReservedName(word.into())),
                "{word}"
            );
        }
        assert_eq!(
            parse_command(":register PRIVATE clave"),
            Err(Problem::ReservedName("PRIVATE".into()))
        );
        assert_eq!(parse_command(":register - clave"), Err(Problem::BadName));
        assert!(matches!(
            parse_command(":login - clave"),
            Ok(Some(Command::Login { .. }))
        ));
    }

    #[test]
    fn foreign_lines_are_not_events() {
        for line in [
            "",
            "hola",
            "[SERVER] Client: what?",
            "bad name!: x",
            "[PRIVATE] x",
        ] {
            assert_eq!(Event::parse(line), None, "{line:?}");
        }
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
    fn look_alike_names_share_a_skeleton() {
        for (a, b) in [
            ("alice", "aIice"),
            ("alice", "a1ice"),
            ("alice", "ALICE"),
            ("mallory", "rnallory"),
            ("wendy", "vvendy"),
            ("bob0", "bobo"),
            ("José", "Jose"),
            ("Begoña", "begona"),
            ("Ramón", "ramon"),
        ] {
            assert_eq!(name_skeleton(a), name_skeleton(b), "{a} ~ {b}");
        }
        for (a, b) in [("alice", "alicia"), ("bob", "rob"), ("ana", "ann")] {
            assert_ne!(name_skeleton(a), name_skeleton(b), "{a} ≠ {b}");
        }
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

    #[test]
    fn cookies_are_recognized_at_the_start_of_a_datagram() {
        assert_eq!(
            split_cookie("0123456789abcdef :login bob pw"),
            Some(("0123456789abcdef", ":login bob pw"))
        );
        assert_eq!(split_cookie(":login bob pw"), None);
        // Un token (32 caracteres) no es una cookie.
        assert_eq!(split_cookie("0123456789abcdef0123456789abcdef hola"), None);
        assert_eq!(split_cookie("0123456789ABCDEF hola"), None);
    }

    #[test]
    fn a_cookie_line_reads_back_in_both_forms_and_nothing_else_does() {
        let cookie = "0123456789abcdef";
        let short = cookie_short_line(cookie);
        assert_eq!(short, "Cookie 0123456789abcdef\n");
        assert_eq!(short.len(), 3 * 8, "cabe en el triple de 8 bytes");
        assert_eq!(cookie_from_line(short.trim_end()), Some(cookie));
        let notice = cookie_notice_line(cookie);
        assert_eq!(
            notice,
            "[SERVER] Client: Cookie 0123456789abcdef, resend with it first.\n"
        );
        assert_eq!(cookie_from_line(notice.trim_end()), Some(cookie));
        // Solo con la forma exacta de una cookie: no es el mensaje de nadie.
        for other in [
            "Cookie 0123",
            "Cookie 0123456789abcdeg",
            "bob: Cookie 0123456789abcdef",
            "Cookie 0123456789abcdef, resend with it first.",
            "[SERVER] Client: Cookie 0123456789abcdef",
        ] {
            assert_eq!(cookie_from_line(other), None, "{other:?}");
        }
    }
}
