//! Paso 4 (enunciado 004): el chat mínimo con cuentas y un banco. Lo que
//! agrega a `chat_minimo.rs`, y nada más:
//! - cuentas con nombre y contraseña (`:register` y `:login`, con el mismo
//!   hash Argon2id del servidor), en vez de un número por conexión;
//! - un saldo por cuenta, que se pregunta al entrar por primera vez, y los
//!   comandos `:funds`, `:t <usuario> <monto>`, `:p`, `:u` y los emojis;
//! - un diario en disco: cada cambio es una línea JSON escrita con
//!   `sync_data` antes de responder, y al arrancar se vuelve a leer. Lo que
//!   el servidor confirmó sobrevive a un corte de luz.
//!
//! Un solo `Mutex` guarda todo: las cuentas, quién está conectado y el
//! archivo del diario. Es la forma más simple de que el dinero no se cree ni
//! se pierda; su precio (la sala espera al disco y al cliente más lento) es
//! lo que `src/curso/` resuelve después, con una cola por cliente.
//!
//! `cargo run --example chat_banco -- 127.0.0.1:7880 /tmp/banco` y varios
//! `nc 127.0.0.1 7880` (o `cargo run --bin cliente -- --addr 127.0.0.1:7880`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use chat::password::{Argon, HashCost, Hashing};
use serde::{Deserialize, Serialize};

/// Una línea del diario: un cambio, en el orden en que se hizo.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Entry {
    Register {
        name: String,
        hash: String,
    },
    Balance {
        name: String,
        dollars: u64,
    },
    Transfer {
        from: String,
        to: String,
        dollars: u64,
    },
}

/// Una cuenta: su hash, su saldo (`None` hasta que lo responda), si alguien
/// inició sesión con ella y, si ya está en la sala, el socket para
/// escribirle.
struct Account {
    hash: String,
    balance: Option<u64>,
    signed_in: bool,
    online: Option<TcpStream>,
}

/// Todo lo compartido, bajo un solo candado.
struct Bank {
    accounts: HashMap<String, Account>,
    journal: File,
}

type Shared = Arc<Mutex<Bank>>;
type Lines = io::Lines<BufReader<TcpStream>>;

const PREFIX: &str = "[SERVER] Client: ";

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7880".into());
    let dir = std::env::args().nth(2).unwrap_or("datos-banco".into());
    let listener = TcpListener::bind(&addr)?;
    println!("Listening on {}", listener.local_addr()?);
    serve(listener, Path::new(&dir), HashCost::Owasp)
}

/// Abre (o crea) el diario de `dir`, rehace las cuentas leyéndolo y acepta
/// para siempre, un hilo por conexión. Error: el diario no se pudo abrir o
/// está roto (mejor no arrancar que arrancar con el dinero mal).
pub fn serve(listener: TcpListener, dir: &Path, cost: HashCost) -> io::Result<()> {
    let bank: Shared = Arc::new(Mutex::new(open(dir)?));
    let hasher = Arc::new(Argon::new(cost));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (bank, hasher) = (Arc::clone(&bank), Arc::clone(&hasher));
        thread::spawn(move || {
            let _ = client(stream, &bank, &hasher);
        });
    }
    Ok(())
}

/// Lee `dir/banco.jsonl` línea por línea y rehace las cuentas. Una última
/// línea a medias (el corte llegó mientras se escribía, antes del
/// `sync_data`, así que nadie recibió su confirmación) se corta del
/// archivo: lo que se agregue después empezará en una línea limpia.
fn open(dir: &Path) -> io::Result<Bank> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("banco.jsonl");
    let text = std::fs::read(&path).unwrap_or_default();
    let mut bank = Bank {
        accounts: HashMap::new(),
        journal: OpenOptions::new().create(true).append(true).open(&path)?,
    };
    let mut good = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) if line.ends_with(b"\n") && bank.apply(&entry) => {}
            _ if line.ends_with(b"\n") => {
                let message = format!("{} roto en el byte {good}", path.display());
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
            _ => break,
        }
        good += line.len();
    }
    bank.journal.set_len(good as u64)?;
    Ok(bank)
}

impl Bank {
    /// La regla del dinero, una sola vez: la usan el arranque (rehaciendo
    /// el diario) y [`Bank::record`] (después de escribirlo). `false` si la entrada rompe la regla (un diario ajeno o editado a
    /// mano): mejor no arrancar que crear o perder dinero.
    fn apply(&mut self, entry: &Entry) -> bool {
        match entry {
            Entry::Register { name, hash } => {
                let (hash, balance, signed_in, online) = (hash.clone(), None, false, None);
                let account = Account {
                    hash,
                    balance,
                    signed_in,
                    online,
                };
                self.accounts.insert(name.clone(), account).is_none()
            }
            Entry::Balance { name, dollars } => self.set(name, *dollars),
            Entry::Transfer { from, to, dollars } => {
                let paid = self.balance(from).checked_sub(*dollars);
                let got = self.balance(to).checked_add(*dollars);
                let (Some(paid), Some(got)) = (paid, got) else {
                    return false;
                };
                self.set(from, paid) && self.set(to, got)
            }
        }
    }

    fn balance(&self, name: &str) -> u64 {
        self.accounts.get(name).and_then(|a| a.balance).unwrap_or(0)
    }

    fn set(&mut self, name: &str, dollars: u64) -> bool {
        let account = self.accounts.get_mut(name);
        account.map(|a| a.balance = Some(dollars)).is_some()
    }

    /// Escribe `entry` en el diario, espera a que esté en el disco y recién
    /// entonces la aplica en memoria. Con el candado tomado: el orden del
    /// archivo es el orden de los cambios, y nadie ve un saldo que un corte
    /// de luz podría deshacer. Si el disco falla, no cambia nada: ni la
    /// memoria ni el archivo, que vuelve a su largo (un pedazo de línea
    /// pegaría la próxima entrada a él).
    fn record(&mut self, entry: Entry) -> io::Result<()> {
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        let before = self.journal.metadata()?.len();
        let written = self
            .journal
            .write_all(&line)
            .and_then(|()| self.journal.sync_data());
        if written.is_err() {
            let _ = self.journal.set_len(before);
            return written;
        }
        self.apply(&entry);
        Ok(())
    }

    /// `:t`: revisa las reglas del enunciado (el otro existe y tiene saldo,
    /// alcanza el dinero, no cabe un saldo más grande que `u64`) y mueve el
    /// dinero. Devuelve los dos saldos nuevos o el texto del error.
    fn transfer(&mut self, from: &str, to: &str, dollars: u64) -> Result<(u64, u64), String> {
        let Some(theirs) = self.accounts.get(to).map(|a| a.balance) else {
            return Err(format!("There is no account named {to}."));
        };
        let Some(theirs) = theirs else {
            return Err(format!("{to} has not set a balance yet."));
        };
        if from == to {
            return Err("You cannot transfer money to yourself.".into());
        }
        if dollars == 0 {
            return Err(format!(
                "The amount must be a whole number of dollars from 1 to {}.",
                u64::MAX
            ));
        }
        if self.balance(from) < dollars {
            return Err("You don't have sufficient funds for the transaction.".into());
        }
        if theirs.checked_add(dollars).is_none() {
            return Err(format!("{to}'s balance cannot hold that amount."));
        }
        let (from, to) = (from.to_string(), to.to_string());
        let entry = Entry::Transfer {
            from: from.clone(),
            to: to.clone(),
            dollars,
        };
        self.record(entry)
            .map_err(|e| format!("The transfer was not saved: {e}"))?;
        Ok((self.balance(&from), self.balance(&to)))
    }

    /// Los nombres de quienes están en la sala, en orden alfabético.
    fn online(&self) -> Vec<&str> {
        let online = self.accounts.iter().filter(|(_, a)| a.online.is_some());
        let mut names: Vec<&str> = online.map(|(name, _)| name.as_str()).collect();
        names.sort();
        names
    }

    /// Escribe `line` a los conectados que `to` elige; olvida el socket de
    /// quien ya no se puede escribir (su hilo lo sacará al leer el corte).
    fn tell(&mut self, to: impl Fn(&str) -> bool, line: &str) {
        for (name, account) in &mut self.accounts {
            if let Some(stream) = account.online.as_mut().filter(|_| to(name))
                && writeln!(stream, "{line}").is_err()
            {
                account.online = None;
            }
        }
    }
}

fn lock(bank: &Shared) -> MutexGuard<'_, Bank> {
    bank.lock().unwrap_or_else(|e| e.into_inner())
}

/// El hilo de un cliente: inicia sesión y atiende la sesión; al salir,
/// como sea que salga, la cuenta queda libre para otro ingreso.
fn client(stream: TcpStream, bank: &Shared, hasher: &Argon) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream).lines();
    writeln!(
        out,
        "{PREFIX}Sign in with :login <name> <password> or create an account with :register <name> <password>."
    )?;
    let name = loop {
        let Some(line) = lines.next() else {
            return Ok(());
        };
        match sign_in(&line?, bank, hasher) {
            Ok(name) => break name,
            Err(problem) => writeln!(out, "{PREFIX}{problem}")?,
        }
    };
    let result = session(&name, out, &mut lines, bank);
    let mut bank = lock(bank);
    if let Some(account) = bank.accounts.get_mut(&name) {
        account.signed_in = false;
    }
    if let Some(mut me) = bank.accounts.get_mut(&name).and_then(|a| a.online.take()) {
        let _ = writeln!(
            me,
            "You have been disconnected from the best chat in the universe!"
        );
        bank.tell(|_| true, &format!("{PREFIX}{name} disconnected!"));
        println!("[SERVER] Client: {name} disconnected!");
    }
    result
}

/// La sesión de `name`: pregunta el saldo si falta, entra a la sala y
/// atiende sus comandos hasta `:q` o el corte.
fn session(name: &str, mut out: TcpStream, lines: &mut Lines, bank: &Shared) -> io::Result<()> {
    writeln!(out, "Welcome to the best chat in the universe!")?;
    let mut confirmation = lock(bank)
        .accounts
        .get(name)
        .and_then(|a| a.balance)
        .map(|dollars| format!("{PREFIX}You have {dollars} dollars."));
    while confirmation.is_none() {
        writeln!(out, "{PREFIX}What is your balance?")?;
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let Ok(dollars) = line?.trim().parse::<u64>() else {
            continue;
        };
        let entry = Entry::Balance {
            name: name.to_string(),
            dollars,
        };
        match lock(bank).record(entry) {
            Ok(()) => {
                confirmation = Some(format!(
                    "{PREFIX}The balance of {dollars} has been set to your account."
                ))
            }
            Err(e) => writeln!(out, "{PREFIX}The balance was not saved: {e}")?,
        }
    }
    // Entrar y avisar bajo el mismo candado: quien lea el aviso ya puede
    // escribirle al recién llegado, y nadie lo ve a medio entrar.
    {
        let mut bank = lock(bank);
        writeln!(out, "{}", confirmation.unwrap_or_default())?;
        bank.tell(|_| true, &format!("{PREFIX}{name} connected!"));
        if let Some(account) = bank.accounts.get_mut(name) {
            account.online = Some(out);
        }
    }
    println!("[SERVER] Client: {name} connected!");
    for line in lines {
        let line = line?;
        if line.trim() == ":q" {
            break;
        }
        command(name, line.trim(), &mut lock(bank));
    }
    Ok(())
}

/// `:register <nombre> <clave>` o `:login <nombre> <clave>`: devuelve el
/// nombre de la cuenta o el texto del error. El hash (decenas de
/// milisegundos a propósito) se calcula sin el candado: con él tomado, cada
/// ingreso detendría a toda la sala.
fn sign_in(line: &str, bank: &Shared, hasher: &Argon) -> Result<String, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (verb, name, password) = match words[..] {
        [verb @ (":register" | ":login"), name, password] => (verb, name, password),
        _ => return Err("Usage: :register <name> <password> or :login <name> <password>".into()),
    };
    if !name.chars().all(char::is_alphanumeric) || name.chars().count() > 32 {
        return Err("Names have 1 to 32 letters or digits.".into());
    }
    if verb == ":register" {
        let hash = hasher
            .hash(password)
            .ok_or("The password could not be hashed.")?;
        let mut bank = lock(bank);
        if bank.accounts.contains_key(name) {
            return Err(format!("The name {name} is already taken."));
        }
        let entry = Entry::Register {
            name: name.to_string(),
            hash,
        };
        bank.record(entry)
            .map_err(|e| format!("The account was not saved: {e}"))?;
    } else {
        let hash = lock(bank).accounts.get(name).map(|a| a.hash.clone());
        if !hasher.verify(password, hash.as_deref()) {
            return Err("Wrong name or password.".into());
        }
    }
    // Reservar la cuenta con el mismo candado con que se mira: dos ingresos
    // a la vez no pueden ver los dos "libre".
    let mut bank = lock(bank);
    match bank.accounts.get_mut(name) {
        Some(account) if !account.signed_in => account.signed_in = true,
        _ => return Err(format!("{name} is already connected.")),
    }
    Ok(name.to_string())
}

/// Un comando o un mensaje de `me`, ya en la sala, con el candado tomado.
fn command(me: &str, line: &str, bank: &mut Bank) {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mine = |name: &str| name == me;
    let reply = match word {
        ":funds" => format!("{PREFIX}You have {} dollars.", bank.balance(me)),
        ":u" => format!("{PREFIX}Connected users: {}", bank.online().join(", ")),
        ":p" => match rest.split_once(' ') {
            Some((to, text)) if bank.accounts.get(to).is_some_and(|a| a.online.is_some()) => {
                bank.tell(|name| name == to, &format!("[PRIVATE] {me}: {text}"));
                return;
            }
            Some((to, _)) => format!("{PREFIX}{to} is not connected."),
            None => format!("{PREFIX}Usage: :p <user> <message>"),
        },
        ":t" => match rest
            .split_once(' ')
            .map(|(to, n)| (to, n.trim().parse::<u64>()))
        {
            Some((to, Ok(dollars))) => match bank.transfer(me, to, dollars) {
                Ok((mine_now, theirs)) => {
                    let line = format!(
                        "{PREFIX}{me} transferred {dollars} dollars to you. You have {theirs} dollars."
                    );
                    bank.tell(|name| name == to, &line);
                    format!(
                        "{PREFIX}You transferred {dollars} dollars to {to}. You have {mine_now} dollars."
                    )
                }
                Err(problem) => format!("{PREFIX}{problem}"),
            },
            _ => format!("{PREFIX}Usage: :t <user> <amount>"),
        },
        _ => {
            let text = match line {
                ":smile" => ":~)",
                ":angry" => ">:(",
                ":confused" => ":S",
                _ => line,
            };
            println!("{me}: {text}");
            bank.tell(|name| name != me, &format!("{me}: {text}"));
            return;
        }
    };
    bank.tell(mine, &reply);
}
