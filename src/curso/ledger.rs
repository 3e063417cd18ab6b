//! El libro de cuentas (*ledger*): las cuentas, sus contraseñas (como hash) y
//! sus saldos en dólares, en un `HashMap` protegido por un `Mutex`.
//!
//! Aquí viven las reglas del dinero (enunciado 004, puntos 6 y 8): ningún
//! saldo queda negativo, una transferencia es un solo paso atómico y la suma
//! de todos los saldos solo cambia cuando alguien declara su saldo inicial.
//! Las reglas están en un solo lugar, `Accounts::apply`, que usan tanto las
//! operaciones en vivo como la relectura del diario al arrancar.
//!
//! Durabilidad (enunciado 005: nada de lo confirmado se pierde): con el
//! candado tomado, una operación se comprueba y se aplica en memoria, y su
//! línea va al diario. Cómo llega al disco es un punto de enchufe
//! ([`Durability`]). En el curso ([`SyncEach`]) se escribe y se fuerza a
//! disco (`sync_data`) ahí mismo, con el candado tomado: cuando
//! `transfer` vuelve, la transferencia ya está en disco, y si el disco
//! falla se deshace y nada cambió. El programa completo junta muchas
//! operaciones en un solo `fdatasync` (*group commit*): quien pide una operación recibe un
//! [`Receipt`] y lo espera fuera del candado con [`Ledger::wait_durable`].
//! Las dos cumplen la misma regla: una operación se confirma **si y solo
//! si su propia línea** está en disco.
//!
//! No sabe de sockets ni de quién está conectado: eso es de `room`.

use crate::curso::password::{Argon, HashCost, Hashing};
use crate::curso::protocolo::name_key;
use crate::curso::seams::{Observer, Unobserved};
use crate::curso::storage::DirLock;
#[cfg(test)]
use crate::curso::storage::JournalFile;
use crate::curso::storage::{Entry, Op, Record, StorageError, Store};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

/// Cuando el diario pasa de este tamaño, en bytes, se escribe una foto
/// nueva y se vacía: releerlo al arrancar nunca toma más que unos
/// milisegundos (4 MiB son unas 60.000 transferencias).
pub const COMPACT_JOURNAL_BYTES: u64 = 4 * 1024 * 1024;

/// Por qué el libro rechazó una operación. Nada cambió en ningún caso.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// Ya existe una cuenta con ese nombre (sin distinguir mayúsculas).
    NameTaken,
    /// Nombre inexistente o contraseña incorrecta (no se dice cuál).
    BadCredentials,
    /// No existe la cuenta de destino.
    NoAccount,
    /// La cuenta de destino aún no declaró su saldo inicial.
    NoBalanceYet,
    /// El saldo inicial ya estaba declarado.
    BalanceAlreadySet,
    /// El saldo de origen es menor que el monto.
    InsufficientFunds,
    /// El saldo de destino pasaría de `u64::MAX` dólares.
    Overflow,
    /// Origen y destino son la misma cuenta.
    SelfTransfer,
    /// No se pudo escribir en disco (el texto es el error de E/S).
    Storage(String),
}

/// Una transferencia ya aplicada en memoria: quién, a quién, cuánto, los
/// saldos justo después de ella y el recibo de su línea del diario. No se
/// confirma a nadie hasta que [`Ledger::wait_durable`] con **su** recibo
/// devuelva `Ok` (enunciado 005: nada confirmado se pierde); en el curso,
/// el recibo ya viene lleno.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Quien envía, tal como se registró.
    pub from: String,
    /// El destinatario, tal como se registró.
    pub to: String,
    /// El monto, en dólares.
    pub dollars: u64,
    /// Saldo nuevo de quien envía, en dólares.
    pub from_balance: u64,
    /// Saldo nuevo del destinatario, en dólares.
    pub to_balance: u64,
    /// Cuándo (y si) su línea llegó a disco.
    pub receipt: Receipt,
}

/// El recibo de una operación aplicada en memoria: dice, cuando se sabe,
/// si su línea llegó a disco. Se espera con [`Ledger::wait_durable`];
/// clonarlo da otro acceso al mismo resultado.
#[derive(Debug, Clone)]
pub struct Receipt {
    outcome: Arc<OnceLock<Result<(), String>>>,
}

impl Receipt {
    /// Un recibo todavía vacío.
    pub fn new() -> Receipt {
        Receipt {
            outcome: Arc::new(OnceLock::new()),
        }
    }

    /// El recibo de una línea que ya está en disco.
    pub fn on_disk() -> Receipt {
        let receipt = Receipt::new();
        receipt.settle(Ok(()));
        receipt
    }

    /// El resultado, si ya se sabe: `Ok` si su línea está en disco; si no,
    /// el texto del error de E/S (y la operación ya se deshizo).
    pub fn outcome(&self) -> Option<Result<(), LedgerError>> {
        let result = self.outcome.get()?;
        Some(result.clone().map_err(LedgerError::Storage))
    }

    /// Lo llena quien escribió la línea; un recibo se llena una sola vez.
    pub fn settle(&self, result: Result<(), String>) {
        let _ = self.outcome.set(result);
    }
}

impl Default for Receipt {
    fn default() -> Receipt {
        Receipt::new()
    }
}

/// Cómo llega al disco una operación ya aplicada en memoria: el punto de
/// enchufe de la durabilidad.
///
/// Es un enchufe porque el curso lo resuelve con lo más simple que es
/// correcto ([`SyncEach`]: escribir y `sync_data` con el candado tomado,
/// un `fdatasync` por operación), y el programa completo con un
/// `fdatasync` para cientos de operaciones (*group commit*). La regla es
/// la misma: un recibo dice `Ok` si y solo si la línea de **su**
/// operación está en disco; si no, la operación ya se deshizo en memoria.
pub trait Durability: Send + Sync {
    /// Con el candado de las cuentas tomado: `entry` ya se aplicó en
    /// `accounts`, y `undo` la deshace. Deja su línea camino al disco y
    /// devuelve su recibo. Error: `Storage` si el disco falló ya aquí
    /// (entonces la deshizo: nada cambió).
    fn record(
        &self,
        accounts: &mut Accounts,
        entry: Entry,
        undo: Undo,
    ) -> Result<Receipt, LedgerError>;
    /// Sin ningún candado tomado: espera a que `receipt` diga si su línea
    /// está en disco. `accounts` es el candado de las cuentas, para
    /// deshacer lo que no llegó. Error: `Storage`.
    fn wait(&self, accounts: &Mutex<Accounts>, receipt: &Receipt) -> Result<(), LedgerError>;
    /// Con el candado tomado: el saldo de la cuenta `key` según lo que ya
    /// está en disco (`None` si no existe o no tiene saldo en disco).
    fn durable_balance(&self, accounts: &Accounts, key: &str) -> Option<u64>;
    /// El recibo de la última operación que todavía no se sabe si está en
    /// disco, si hay (para [`Ledger::flush`]).
    fn last_pending(&self) -> Option<Receipt>;
    /// Cambia el archivo del diario (ver [`Store::wrap_journal`]): la
    /// costura de las pruebas del disco que falla. Solo existe en las
    /// pruebas.
    #[cfg(test)]
    fn wrap_journal(&self, wrap: WrapJournal<'_>);
}

/// Lo que cambia el archivo del diario (ver [`Durability::wrap_journal`]).
#[cfg(test)]
pub type WrapJournal<'a> = Box<dyn FnOnce(Box<dyn JournalFile>) -> Box<dyn JournalFile> + 'a>;

/// Arma la durabilidad sobre los archivos ya abiertos. La del curso es
/// [`SyncEach::boxed`].
pub type MakeDurability = Box<dyn FnOnce(Store) -> Box<dyn Durability> + Send>;

/// La durabilidad del curso: cada operación se escribe en el diario y se
/// fuerza a disco con el candado de las cuentas tomado. Mientras dura el
/// `sync_data` nadie más toca el libro (unos milisegundos en un disco
/// lento): es lo que cuesta la regla escrita de la forma más simple.
pub struct SyncEach {
    /// Los archivos. El candado de las cuentas ya hace que escriba uno a
    /// la vez; este `Mutex` solo está porque `Durability` se comparte
    /// entre hilos, y nunca se espera. Se toma siempre **después** del de
    /// las cuentas (desde [`Durability::record`]), nunca antes: así dos
    /// hilos no pueden esperarse en círculo.
    store: Mutex<Store>,
    /// Tamaño del diario, en bytes, que dispara una foto nueva.
    compact_at: u64,
}

impl SyncEach {
    /// Sobre los archivos de `store`.
    pub fn new(store: Store) -> SyncEach {
        SyncEach {
            store: Mutex::new(store),
            compact_at: COMPACT_JOURNAL_BYTES,
        }
    }

    /// Lo mismo, listo para [`Ledger::open_locked`].
    pub fn boxed(store: Store) -> Box<dyn Durability> {
        Box::new(SyncEach::new(store))
    }

    /// Con otro umbral para la foto, en bytes (las pruebas lo achican).
    pub fn compacting_at(self, bytes: u64) -> SyncEach {
        SyncEach {
            compact_at: bytes,
            ..self
        }
    }
}

impl Durability for SyncEach {
    fn record(
        &self,
        accounts: &mut Accounts,
        entry: Entry,
        undo: Undo,
    ) -> Result<Receipt, LedgerError> {
        let mut store = crate::curso::sync::lock(&self.store);
        match store.append(&entry.to_line()) {
            Ok(()) => {
                if store.journal_bytes() > self.compact_at {
                    // Si la foto falla, el diario sigue siendo válido.
                    let _ = store.snapshot(accounts.records(), entry.seq);
                }
                Ok(Receipt::on_disk())
            }
            Err(error) => {
                accounts.revert(undo);
                Err(LedgerError::Storage(error.to_string()))
            }
        }
    }

    fn wait(&self, _accounts: &Mutex<Accounts>, receipt: &Receipt) -> Result<(), LedgerError> {
        receipt.outcome().unwrap_or(Ok(()))
    }

    fn durable_balance(&self, accounts: &Accounts, key: &str) -> Option<u64> {
        accounts.balance(key)
    }

    fn last_pending(&self) -> Option<Receipt> {
        None
    }

    #[cfg(test)]
    fn wrap_journal(&self, wrap: WrapJournal<'_>) {
        crate::curso::sync::lock(&self.store).wrap_journal(wrap);
    }
}

/// El libro de cuentas compartido por todos los hilos.
pub struct Ledger {
    /// Las cuentas. Todo lo que lee y cambia saldos lo hace con este
    /// candado tomado, de principio a fin: comprobar la regla y aplicarla
    /// es un solo paso que nadie ve a medias. Sin él, dos transferencias
    /// de la misma cuenta podrían leer el mismo saldo y restar las dos
    /// sobre él: una actualización perdida, y dinero creado.
    accounts: Mutex<Accounts>,
    /// Cómo llega cada operación al disco (ver [`Durability`]).
    durability: Box<dyn Durability>,
    hasher: Box<dyn Hashing>,
    /// Ver [`Ledger::torn_bytes`].
    torn_bytes: u64,
    /// Quién cuenta las esperas por el candado (el curso, nadie).
    observer: Arc<dyn Observer>,
}

/// Lo que protege el candado del libro: las cuentas por clave en
/// minúsculas. Fuera de este módulo solo se ve lo que la durabilidad
/// necesita: deshacer, leer saldos y escribir la foto.
pub struct Accounts {
    by_key: HashMap<String, Record>,
    /// Número de la próxima operación.
    next_seq: u64,
}

/// La inversa de una operación aplicada (la devuelve `Accounts::apply`, la
/// usa [`Accounts::revert`]).
#[derive(Debug)]
pub enum Undo {
    /// Borrar la cuenta de esa clave.
    Unregister(String),
    /// Quitarle el saldo declarado.
    UnsetBalance(String),
    /// Devolver `dollars` de `to` a `from` (claves).
    Transfer {
        from: String,
        to: String,
        dollars: u64,
    },
}

impl Ledger {
    /// Toma el candado de `data_dir` y abre el libro guardado ahí, con la
    /// durabilidad del curso y sin nadie que cuente (ver
    /// [`Ledger::open_locked`]). Errores: los de [`DirLock::acquire`] y de
    /// [`Ledger::open_locked`].
    pub fn open(data_dir: &Path, cost: HashCost) -> Result<Ledger, StorageError> {
        Ledger::open_locked(
            DirLock::acquire(data_dir)?,
            Argon::boxed(cost),
            Arc::new(Unobserved),
            Box::new(SyncEach::boxed),
        )
    }

    /// Abre el libro del directorio cuyo candado es `lock`: la foto y,
    /// encima, el diario, con las mismas reglas que en vivo. `hasher` calcula
    /// y comprueba los hashes de las contraseñas; `observer` cuenta las esperas por el
    /// candado; `durability` arma cómo llega cada
    /// operación al disco. Errores: los de [`Store::open`], y `Corrupt` si
    /// una operación del diario rompe las reglas (por ejemplo, deja un
    /// saldo negativo).
    pub fn open_locked(
        lock: DirLock,
        hasher: Box<dyn Hashing>,
        observer: Arc<dyn Observer>,
        durability: MakeDurability,
    ) -> Result<Ledger, StorageError> {
        let data_dir = lock.dir().to_path_buf();
        let (store, loaded) = Store::open(lock)?;
        let mut accounts = Accounts {
            by_key: loaded
                .records
                .into_iter()
                .map(|r| (name_key(&r.name), r))
                .collect(),
            next_seq: loaded.applied + 1,
        };
        for (line, entry) in loaded.entries {
            accounts
                .apply(&entry.op)
                .map_err(|error| StorageError::Corrupt {
                    path: data_dir.join(crate::curso::storage::JOURNAL_FILE),
                    detail: format!(
                        "line {line}: operation {} breaks a rule: {error:?}",
                        entry.seq
                    ),
                })?;
            accounts.next_seq = entry.seq + 1;
        }
        Ok(Ledger {
            accounts: Mutex::new(accounts),
            durability: durability(store),
            hasher,
            torn_bytes: loaded.torn_bytes,
            observer,
        })
    }

    /// Bytes de una última línea del diario, sin su `\n`, que se
    /// descartaron al abrir (ver [`crate::curso::storage::Loaded::torn_bytes`]).
    pub fn torn_bytes(&self) -> u64 {
        self.torn_bytes
    }

    /// Cambia el archivo del diario (ver [`Store::wrap_journal`]): la
    /// costura por donde una prueba pone un disco que falla y se recupera.
    #[cfg(test)]
    pub fn wrap_journal(&self, wrap: impl FnOnce(Box<dyn JournalFile>) -> Box<dyn JournalFile>) {
        self.durability.wrap_journal(Box::new(wrap));
    }

    /// El candado de las cuentas. Si otro hilo entró en pánico con él
    /// tomado, los datos siguen siendo coherentes (cada operación se
    /// comprueba entera antes de tocar nada), así que se sigue usando en
    /// vez de propagar el pánico a todos los clientes. Se mide cuánto se
    /// esperó (dos lecturas del reloj, unos 40 ns) para `:stats`: es el
    /// candado que el curso enseña, y su espera es lo que cuesta compartir.
    fn lock(&self) -> MutexGuard<'_, Accounts> {
        let asked = Instant::now();
        let accounts = crate::curso::sync::lock(&self.accounts);
        self.observer.ledger_waited(asked.elapsed());
        accounts
    }

    /// Aplica `op` con el candado tomado (`accounts`) y la deja camino al
    /// disco. Devuelve su recibo, para esperar con [`Ledger::wait_durable`].
    /// Errores: los de las reglas (sin cambiar nada) y `Storage`.
    fn record(&self, accounts: &mut Accounts, op: Op) -> Result<Receipt, LedgerError> {
        let undo = accounts.apply(&op)?;
        let seq = accounts.next_seq;
        accounts.next_seq += 1;
        self.durability.record(accounts, Entry { seq, op }, undo)
    }

    /// Espera a que se sepa si la operación de `receipt` llegó a disco (si
    /// ya se sabe, vuelve enseguida). Error: `Storage` si el disco falló;
    /// entonces la operación ya se deshizo en memoria, junto con todas las
    /// demás que no llegaron a disco.
    pub fn wait_durable(&self, receipt: &Receipt) -> Result<(), LedgerError> {
        self.durability.wait(&self.accounts, receipt)
    }

    /// Crea la cuenta `name` con la contraseña dada, sin saldo todavía.
    /// Devuelve el nombre registrado. El hash (lo caro) se calcula sin el
    /// candado, para no frenar a los demás. Errores: `NameTaken`,
    /// `Storage`.
    pub fn register(&self, name: &str, password: &str) -> Result<String, LedgerError> {
        // Lo barato primero: sin hash para un nombre que ya existe.
        if self.lock().by_key.contains_key(&name_key(name)) {
            return Err(LedgerError::NameTaken);
        }
        let password_hash = self
            .hasher
            .hash(password)
            .ok_or_else(|| LedgerError::Storage("no randomness for the salt".into()))?;
        // Otro hilo pudo registrar el mismo nombre mientras se calculaba el
        // hash: `apply` lo vuelve a comprobar con el candado tomado.
        let op = Op::Register {
            name: name.to_string(),
            password_hash,
        };
        let receipt = self.record(&mut self.lock(), op)?;
        self.wait_durable(&receipt)?;
        Ok(name.to_string())
    }

    /// Comprueba nombre y contraseña. Devuelve el nombre registrado y el
    /// saldo (`None` si aún no lo declaró). Error: `BadCredentials`, el mismo
    /// y con el mismo costo para un nombre inexistente.
    pub fn verify(&self, name: &str, password: &str) -> Result<(String, Option<u64>), LedgerError> {
        let key = name_key(name);
        let stored = self
            .lock()
            .by_key
            .get(&key)
            .map(|r| r.password_hash.clone());
        if !self.hasher.verify(password, stored.as_deref()) {
            return Err(LedgerError::BadCredentials);
        }
        let accounts = self.lock();
        let record = accounts
            .by_key
            .get(&key)
            .ok_or(LedgerError::BadCredentials)?;
        let balance = self.durability.durable_balance(&accounts, &key);
        Ok((record.name.clone(), balance))
    }

    /// Declara el saldo inicial de `name`, en dólares (la respuesta a "What is
    /// your balance?"). Solo una vez por cuenta: así el dinero entra al
    /// sistema una sola vez y después solo se mueve. Errores: `NoAccount`,
    /// `BalanceAlreadySet`, `Storage`.
    pub fn set_initial_balance(&self, name: &str, dollars: u64) -> Result<(), LedgerError> {
        let op = Op::Balance {
            name: name.to_string(),
            dollars,
        };
        let receipt = self.record(&mut self.lock(), op)?;
        self.wait_durable(&receipt)
    }

    /// Saldo de `name` en dólares, en memoria; `None` si no existe o no lo
    /// declaró. Puede incluir operaciones que todavía no están en disco
    /// (ver [`Ledger::durable_balance`]).
    pub fn balance(&self, name: &str) -> Option<u64> {
        self.lock().by_key.get(&name_key(name))?.balance
    }

    /// Saldo de `name` en dólares según lo que ya está en disco: el de
    /// memoria sin las operaciones aún no sincronizadas que lo tocan (una
    /// transferencia de otro usuario hacia `name` cuyo `fdatasync` no
    /// terminó). Es lo que `:funds` y la entrada responden: si el servidor
    /// muriera ahora, ese saldo sigue siendo el de `name` al volver
    /// (enunciado 005: nada confirmado se pierde, y nada se dice antes de
    /// estar en disco). `None` si no existe o no lo declaró en disco. No
    /// espera al disco.
    pub fn durable_balance(&self, name: &str) -> Option<u64> {
        let accounts = self.lock();
        self.durability.durable_balance(&accounts, &name_key(name))
    }

    /// Mueve `dollars` de `from` a `to` en un solo paso atómico: con el
    /// candado tomado se comprueba todo y se cambian los dos saldos; ningún
    /// otro hilo ve un estado intermedio. La transferencia queda en el
    /// diario pendiente, **sin esperar al disco**: quien llama espera su
    /// recibo con [`Ledger::wait_durable`] antes de confirmarla (que otra
    /// posterior esté en disco no dice nada de esta). Así un hilo con varias
    /// `:t` ya leídas las aplica todas y espera un solo `fdatasync`.
    ///
    /// Errores, sin cambiar nada: `SelfTransfer`, `NoAccount` (origen o
    /// destino), `NoBalanceYet`, `InsufficientFunds`, `Overflow`.
    pub fn transfer(&self, from: &str, to: &str, dollars: u64) -> Result<Transfer, LedgerError> {
        let (from_key, to_key) = (name_key(from), name_key(to));
        let mut accounts = self.lock();
        let op = Op::Transfer {
            from: from.to_string(),
            to: to.to_string(),
            dollars,
        };
        let receipt = self.record(&mut accounts, op)?;
        let (Some(source), Some(target)) =
            (accounts.by_key.get(&from_key), accounts.by_key.get(&to_key))
        else {
            // `record` ya comprobó que existen las dos cuentas.
            return Err(LedgerError::NoAccount);
        };
        Ok(Transfer {
            from: source.name.clone(),
            to: target.name.clone(),
            dollars,
            from_balance: source.balance.unwrap_or(0),
            to_balance: target.balance.unwrap_or(0),
            receipt,
        })
    }

    /// Escribe y sincroniza todo lo aplicado hasta ahora (para apagar el
    /// servidor). Error: `Storage` si el disco falló (lo no sincronizado ya
    /// se deshizo en memoria).
    pub fn flush(&self) -> Result<(), LedgerError> {
        // Cuando se sabe el resultado de la última, se sabe el de todas:
        // una vuelta buena cubre las anteriores y una mala las deshace.
        match self.durability.last_pending() {
            Some(receipt) => self.wait_durable(&receipt),
            None => Ok(()),
        }
    }

    /// Los nombres de todas las cuentas, tal como se registraron (el
    /// programa completo los anota al arrancar, para rechazar los que se
    /// confunden con ellos).
    pub fn names(&self) -> Vec<String> {
        self.lock()
            .by_key
            .values()
            .map(|r| r.name.clone())
            .collect()
    }

    /// Suma de todos los saldos declarados, en dólares (en `u128`, porque la
    /// suma de muchos `u64` puede no caber en un `u64`).
    pub fn total(&self) -> u128 {
        self.lock()
            .by_key
            .values()
            .filter_map(|r| r.balance)
            .map(u128::from)
            .sum()
    }

    /// Cantidad de cuentas (para las pruebas).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().by_key.len()
    }
}

impl Accounts {
    /// El saldo de la cuenta `key`, en dólares, en memoria (`None` si no
    /// existe o no lo declaró).
    pub fn balance(&self, key: &str) -> Option<u64> {
        self.by_key.get(key)?.balance
    }

    /// Todas las cuentas, para escribir la foto.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.by_key.values()
    }

    /// El número de la última operación aplicada (el `applied` de la foto).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Las reglas del dinero, en un solo lugar: comprueba `op` entera y, solo
    /// si es válida, la aplica. Devuelve cómo deshacerla. Errores (sin
    /// cambiar nada): los de [`LedgerError`] salvo `BadCredentials` y
    /// `Storage`.
    fn apply(&mut self, op: &Op) -> Result<Undo, LedgerError> {
        match op {
            Op::Register {
                name,
                password_hash,
            } => {
                let key = name_key(name);
                if self.by_key.contains_key(&key) {
                    return Err(LedgerError::NameTaken);
                }
                let record = Record {
                    name: name.clone(),
                    password_hash: password_hash.clone(),
                    balance: None,
                };
                self.by_key.insert(key.clone(), record);
                Ok(Undo::Unregister(key))
            }
            Op::Balance { name, dollars } => {
                let key = name_key(name);
                let record = self.by_key.get_mut(&key).ok_or(LedgerError::NoAccount)?;
                if record.balance.is_some() {
                    return Err(LedgerError::BalanceAlreadySet);
                }
                record.balance = Some(*dollars);
                Ok(Undo::UnsetBalance(key))
            }
            Op::Transfer { from, to, dollars } => self.apply_transfer(from, to, *dollars),
        }
    }

    /// La regla de `:t` (parte de `Accounts::apply`): las dos cuentas
    /// existen y tienen saldo, el origen alcanza y el destino no se desborda.
    /// Los dos saldos nuevos se calculan antes de tocar ninguno: si uno
    /// falla, ninguno cambia.
    fn apply_transfer(&mut self, from: &str, to: &str, dollars: u64) -> Result<Undo, LedgerError> {
        let (from_key, to_key) = (name_key(from), name_key(to));
        if from_key == to_key {
            return Err(LedgerError::SelfTransfer);
        }
        let source = self.by_key.get(&from_key).ok_or(LedgerError::NoAccount)?;
        let target = self.by_key.get(&to_key).ok_or(LedgerError::NoAccount)?;
        let available = source.balance.ok_or(LedgerError::NoBalanceYet)?;
        let held = target.balance.ok_or(LedgerError::NoBalanceYet)?;
        let from_balance = available
            .checked_sub(dollars)
            .ok_or(LedgerError::InsufficientFunds)?;
        let to_balance = held.checked_add(dollars).ok_or(LedgerError::Overflow)?;
        self.set_balance(&from_key, from_balance);
        self.set_balance(&to_key, to_balance);
        Ok(Undo::Transfer {
            from: from_key,
            to: to_key,
            dollars,
        })
    }

    fn set_balance(&mut self, key: &str, dollars: u64) {
        if let Some(record) = self.by_key.get_mut(key) {
            record.balance = Some(dollars);
        }
    }

    /// Deshace una operación aplicada. Se llama en orden inverso, así que
    /// cada inversa encuentra exactamente el estado que dejó su operación.
    pub fn revert(&mut self, undo: Undo) {
        match undo {
            Undo::Unregister(key) => {
                self.by_key.remove(&key);
            }
            Undo::UnsetBalance(key) => {
                if let Some(record) = self.by_key.get_mut(&key) {
                    record.balance = None;
                }
            }
            Undo::Transfer { from, to, dollars } => {
                let balance = |key: &str| self.by_key.get(key).and_then(|r| r.balance);
                let (from_balance, to_balance) = (balance(&from), balance(&to));
                if let (Some(f), Some(t)) = (from_balance, to_balance) {
                    self.set_balance(&from, f.saturating_add(dollars));
                    self.set_balance(&to, t.saturating_sub(dollars));
                }
            }
        }
    }
}

/// Las pruebas del libro. Las que valen para cualquier durabilidad son
/// funciones que reciben cómo abrir el libro: aquí corren con la del curso,
/// y el programa completo las corre con su *group commit*.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::curso::storage::tests::{Fault, Faulty};
    use std::thread;

    /// Abre el libro de `dir` (con hashes baratos).
    pub(crate) type Open<'a> = &'a dyn Fn(&Path) -> Ledger;

    fn ledger(dir: &Path) -> Ledger {
        Ledger::open(dir, HashCost::Minimal).expect("open")
    }

    /// El libro de `dir` con la durabilidad que arma `make`.
    pub(crate) fn open_with(dir: &Path, make: MakeDurability) -> Ledger {
        let lock = DirLock::acquire(dir).expect("candado");
        Ledger::open_locked(
            lock,
            Argon::boxed(HashCost::Minimal),
            Arc::new(Unobserved),
            make,
        )
        .expect("open")
    }

    /// Una transferencia completa: aplicada y en disco.
    pub(crate) fn durable(
        ledger: &Ledger,
        from: &str,
        to: &str,
        dollars: u64,
    ) -> Result<Transfer, LedgerError> {
        let transfer = ledger.transfer(from, to, dollars)?;
        ledger.wait_durable(&transfer.receipt)?;
        Ok(transfer)
    }

    pub(crate) fn account(ledger: &Ledger, name: &str, dollars: u64) {
        ledger.register(name, "pw").expect("register");
        ledger.set_initial_balance(name, dollars).expect("balance");
    }

    #[test]
    fn accounts_are_unique_ignoring_case_and_need_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger(dir.path());
        assert_eq!(ledger.register("Alice", "pw"), Ok("Alice".into()));
        assert_eq!(ledger.register("alice", "x"), Err(LedgerError::NameTaken));
        assert_eq!(ledger.verify("ALICE", "pw"), Ok(("Alice".into(), None)));
        assert_eq!(
            ledger.verify("alice", "px"),
            Err(LedgerError::BadCredentials)
        );
        assert_eq!(
            ledger.verify("nobody", "pw"),
            Err(LedgerError::BadCredentials)
        );
        ledger.set_initial_balance("alice", 10).expect("balance");
        assert_eq!(
            ledger.set_initial_balance("alice", 99),
            Err(LedgerError::BalanceAlreadySet)
        );
        assert_eq!(ledger.verify("alice", "pw"), Ok(("Alice".into(), Some(10))));
    }

    #[test]
    fn a_name_is_taken_whatever_its_case() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger(dir.path());
        ledger.register("José", "pw").expect("José");
        assert_eq!(ledger.register("JOSÉ", "pw"), Err(LedgerError::NameTaken));
        // Los parecidos (`Jose`) los rechaza el programa completo, antes
        // de llegar aquí.
        ledger.register("Jose", "pw").expect("Jose");
        assert_eq!(ledger.names().len(), 2);
    }

    #[test]
    fn transfers_follow_the_rules_and_change_nothing_when_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger(dir.path());
        account(&ledger, "alice", 3000);
        account(&ledger, "bob", 500);
        ledger.register("carol", "pw").expect("register");
        let done = durable(&ledger, "alice", "Bob", 100).expect("transfer");
        assert_eq!(
            (done.from.as_str(), done.to.as_str(), done.dollars),
            ("alice", "bob", 100)
        );
        assert_eq!((done.from_balance, done.to_balance), (2900, 600));
        let refused = [
            ("alice", "bob", 2901, LedgerError::InsufficientFunds),
            ("alice", "ALICE", 1, LedgerError::SelfTransfer),
            ("alice", "dave", 1, LedgerError::NoAccount),
            ("alice", "carol", 1, LedgerError::NoBalanceYet),
            ("carol", "alice", 1, LedgerError::NoBalanceYet),
        ];
        for (from, to, dollars, error) in refused {
            assert_eq!(durable(&ledger, from, to, dollars).err(), Some(error));
        }
        account(&ledger, "rich", u64::MAX);
        assert_eq!(
            durable(&ledger, "rich", "bob", u64::MAX).err(),
            Some(LedgerError::Overflow)
        );
        assert_eq!(ledger.balance("alice"), Some(2900));
        assert_eq!(ledger.balance("bob"), Some(600));
        assert_eq!(ledger.balance("rich"), Some(u64::MAX));
    }

    #[test]
    fn everything_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let ledger = ledger(dir.path());
            account(&ledger, "alice", 3000);
            account(&ledger, "bob", 500);
            durable(&ledger, "alice", "bob", 1000).expect("transfer");
        }
        let ledger = ledger(dir.path());
        assert_eq!(ledger.balance("alice"), Some(2000));
        assert_eq!(ledger.balance("bob"), Some(1500));
        assert_eq!(ledger.verify("bob", "pw"), Ok(("bob".into(), Some(1500))));
    }

    /// Pone en el diario de `ledger` un archivo que falla según `plan`.
    pub(crate) fn faulty(ledger: &Ledger, plan: impl FnMut(usize) -> Fault + Send + 'static) {
        let plan: Arc<Mutex<dyn FnMut(usize) -> Fault + Send>> = Arc::new(Mutex::new(plan));
        ledger.wrap_journal(|inner| {
            Box::new(Faulty {
                inner,
                plan,
                writes: 0,
            })
        });
    }

    /// Las transferencias que quedaron en el diario, por monto.
    pub(crate) fn journaled_amounts(dir: &Path) -> Vec<u64> {
        let text =
            std::fs::read_to_string(dir.join(crate::curso::storage::JOURNAL_FILE)).expect("diario");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Entry>(line).ok())
            .filter_map(|entry| match entry.op {
                Op::Transfer { dollars, .. } => Some(dollars),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_failed_save_changes_nothing_in_memory() {
        a_failed_save_changes_nothing(&ledger);
    }

    pub(crate) fn a_failed_save_changes_nothing(open: Open) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = open(dir.path());
        account(&ledger, "alice", 3000);
        account(&ledger, "bob", 500);
        // Las dos escrituras siguientes fallan (una a medias); después, el
        // disco vuelve.
        faulty(&ledger, |write| match write {
            0 => Fault::Torn,
            1 => Fault::Fail,
            _ => Fault::Pass,
        });
        assert!(matches!(
            durable(&ledger, "alice", "bob", 1),
            Err(LedgerError::Storage(_))
        ));
        assert!(matches!(
            ledger.register("carol", "pw"),
            Err(LedgerError::Storage(_))
        ));
        assert_eq!(ledger.balance("alice"), Some(3000));
        assert_eq!(ledger.balance("bob"), Some(500));
        assert_eq!(ledger.len(), 2);
        durable(&ledger, "alice", "bob", 2).expect("transfer");
        drop(ledger);
        let reopened = Ledger::open(dir.path(), HashCost::Minimal).expect("reopen");
        assert_eq!(reopened.balance("alice"), Some(2998));
        assert_eq!(reopened.len(), 2);
        assert_eq!(journaled_amounts(dir.path()), [2]);
    }

    /// Muchos hilos con transferencias en tubería (varias aplicadas antes de
    /// esperar) y un disco que falla una de cada tres escrituras, a veces a
    /// medias: cada transferencia confirmada está en el diario, ninguna
    /// rechazada lo está, y al reabrir los saldos son los de memoria.
    #[test]
    fn pipelined_transfers_with_a_flaky_disk_confirm_exactly_what_is_on_disk() {
        a_flaky_disk_confirms_exactly_what_is_on_disk(&ledger);
    }

    pub(crate) fn a_flaky_disk_confirms_exactly_what_is_on_disk(open: Open) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Arc::new(open(dir.path()));
        let names: Vec<String> = (0..4).map(|i| format!("user{i}")).collect();
        for name in &names {
            account(&ledger, name, 100_000_000);
        }
        account(&ledger, "sink", 0);
        let before = ledger.total();
        faulty(&ledger, |write| match write % 3 {
            0 if write % 2 == 0 => Fault::Torn,
            0 => Fault::Fail,
            _ => Fault::Pass,
        });
        let threads: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(t, name)| {
                let ledger = Arc::clone(&ledger);
                let name = name.clone();
                thread::spawn(move || {
                    let (mut acked, mut refused) = (Vec::new(), Vec::new());
                    for round in 0..60u64 {
                        // Montos únicos: hilo, vuelta y posición. Con la
                        // durabilidad del curso, el disco falla ya en
                        // `transfer`; con el *group commit*, al esperar.
                        let batch: Vec<(u64, Result<Transfer, LedgerError>)> = (0..5u64)
                            .map(|i| {
                                let dollars = 1 + t as u64 * 10_000 + round * 10 + i;
                                (dollars, ledger.transfer(&name, "sink", dollars))
                            })
                            .collect();
                        for (dollars, applied) in batch {
                            let outcome = applied.and_then(|a| ledger.wait_durable(&a.receipt));
                            match outcome {
                                Ok(()) => acked.push(dollars),
                                Err(LedgerError::Storage(_)) => refused.push(dollars),
                                Err(other) => panic!("hay saldo: {other:?}"),
                            }
                        }
                    }
                    (acked, refused)
                })
            })
            .collect();
        let (mut acked, mut refused) = (Vec::new(), Vec::new());
        for thread in threads {
            let (a, r) = thread.join().expect("join");
            acked.extend(a);
            refused.extend(r);
        }
        assert!(!acked.is_empty() && !refused.is_empty(), "hubo de los dos");
        let mut journaled = journaled_amounts(dir.path());
        journaled.sort_unstable();
        acked.sort_unstable();
        assert_eq!(journaled, acked, "en el diario = lo confirmado");
        let sink = ledger.balance("sink").expect("sink");
        assert_eq!(u128::from(sink), acked.iter().map(|&d| u128::from(d)).sum());
        assert_eq!(ledger.total(), before);
        drop(ledger);
        let reopened = Ledger::open(dir.path(), HashCost::Minimal).expect("reopen");
        assert_eq!(reopened.balance("sink"), Some(sink));
        assert_eq!(reopened.total(), before);
    }

    #[test]
    fn a_journal_that_breaks_the_rules_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let ledger = ledger(dir.path());
            account(&ledger, "alice", 10);
            account(&ledger, "bob", 0);
        }
        let journal = dir.path().join(crate::curso::storage::JOURNAL_FILE);
        let forged = Entry {
            seq: 99,
            op: Op::Transfer {
                from: "alice".into(),
                to: "bob".into(),
                dollars: 11,
            },
        };
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("open");
        std::io::Write::write_all(&mut file, &forged.to_line()).expect("write");
        let error = Ledger::open(dir.path(), HashCost::Minimal)
            .err()
            .expect("debe rechazarlo")
            .to_string();
        assert!(
            error.contains("line 6") && error.contains("InsufficientFunds"),
            "{error}"
        );
    }

    #[test]
    fn many_operations_compact_into_a_snapshot_and_survive() {
        // Un umbral chico para no escribir 4 MiB en la prueba.
        compacts_into_a_snapshot(&|dir| {
            open_with(
                dir,
                Box::new(|store| Box::new(SyncEach::new(store).compacting_at(1000))),
            )
        });
    }

    /// `open` abre un libro que escribe una foto al pasar los 1000 bytes.
    pub(crate) fn compacts_into_a_snapshot(open: Open) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = open(dir.path());
        account(&ledger, "alice", 1_000_000);
        account(&ledger, "bob", 0);
        let journal = dir.path().join(crate::curso::storage::JOURNAL_FILE);
        let mut largest = 0;
        // ~70 bytes por línea: unas 15 por foto.
        for _ in 0..100 {
            durable(&ledger, "alice", "bob", 1).expect("transfer");
            largest = largest.max(std::fs::metadata(&journal).expect("journal").len());
        }
        assert!(
            largest <= 1000 + 100,
            "el diario se compactó: {largest} bytes"
        );
        let snapshot = std::fs::read_to_string(dir.path().join("usuarios.json")).expect("foto");
        assert!(snapshot.contains("\"applied\""), "{snapshot}");
        drop(ledger);
        let reopened = Ledger::open(dir.path(), HashCost::Minimal).expect("reopen");
        assert_eq!(reopened.balance("alice"), Some(999_900));
        assert_eq!(reopened.balance("bob"), Some(100));
    }

    /// El problema de la sección crítica del enunciado 004: muchos hilos
    /// transfiriendo a la vez entre las mismas cuentas. Sin el `Mutex`, dos
    /// hilos leerían el mismo saldo y uno de los dos cambios se perdería.
    #[test]
    fn concurrent_transfers_conserve_money() {
        many_threads_conserve_money(&ledger);
    }

    pub(crate) fn many_threads_conserve_money(open: Open) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Arc::new(open(dir.path()));
        let names: Vec<String> = (0..6).map(|i| format!("user{i}")).collect();
        for name in &names {
            account(&ledger, name, 1000);
        }
        let before = ledger.total();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let ledger = Arc::clone(&ledger);
                let names = names.clone();
                thread::spawn(move || {
                    let mut accepted = 0;
                    for i in 0..150usize {
                        let from = &names[(t + i) % names.len()];
                        let to = &names[(t * 7 + i * 3 + 1) % names.len()];
                        if durable(&ledger, from, to, (i % 400 + 1) as u64).is_ok() {
                            accepted += 1;
                        }
                    }
                    accepted
                })
            })
            .collect();
        let accepted: usize = threads.into_iter().map(|t| t.join().expect("join")).sum();
        assert!(accepted > 100, "solo {accepted} transferencias aceptadas");
        assert_eq!(ledger.total(), before);
        drop(ledger);
        let reopened = Ledger::open(dir.path(), HashCost::Minimal).expect("reopen");
        assert_eq!(reopened.total(), before);
    }

    /// La durabilidad del curso: cuando `transfer` vuelve, su línea ya está
    /// en el diario (sin esperar ningún recibo); si el disco falla, falla
    /// `transfer` y nada cambió.
    #[test]
    fn with_sync_each_a_transfer_is_on_disk_when_it_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger(dir.path());
        account(&ledger, "alice", 100);
        account(&ledger, "bob", 0);
        let done = ledger.transfer("alice", "bob", 7).expect("7");
        assert!(done.receipt.outcome().is_some(), "el recibo viene lleno");
        assert_eq!(journaled_amounts(dir.path()), [7]);
        assert_eq!(ledger.durable_balance("bob"), Some(7));
        faulty(&ledger, |write| match write {
            0 => Fault::Torn,
            _ => Fault::Pass,
        });
        assert!(matches!(
            ledger.transfer("alice", "bob", 8),
            Err(LedgerError::Storage(_))
        ));
        assert_eq!(ledger.balance("alice"), Some(93));
        assert_eq!(ledger.balance("bob"), Some(7));
        ledger.transfer("alice", "bob", 9).expect("9");
        assert_eq!(journaled_amounts(dir.path()), [7, 9]);
    }
}
