//! La persistencia de las cuentas: los archivos del directorio de datos.
//!
//! - `diario.jsonl`, el **diario** (*journal*): una línea JSON por operación
//!   confirmada (registro, saldo inicial, transferencia), siempre agregada al
//!   final (`O_APPEND`) y forzada a disco (`fdatasync`) antes de confirmar.
//!   Guardar una transferencia cuesta lo mismo con 10 cuentas que con 10.000.
//!   Su primera línea es una cabecera, `{"after_snapshot":N}`: el diario
//!   continúa la foto que incluye hasta la operación `N`. Se crea al abrir,
//!   antes que la primera foto, y nunca se borra: solo se vacía.
//! - `usuarios.json`, la **foto** (*snapshot*): todas las cuentas, con el
//!   número de la última operación que incluye (`applied`). Cuando el
//!   diario crece, se escribe una foto nueva (temporal + `fsync` + `rename`,
//!   atómico en POSIX) y el diario vuelve a ser solo su cabecera.
//! - `.lock`, el **candado** del directorio: un `flock` exclusivo que el
//!   servidor toma antes de leer nada y que el sistema suelta cuando el
//!   proceso muere (también con SIGKILL). Dos servidores sobre los mismos
//!   archivos se pisarían las escrituras: el segundo no arranca.
//!
//! Al abrir: foto + las operaciones del diario con número mayor que
//! `applied`. Así, morir entre escribir la foto y vaciar el diario no aplica
//! nada dos veces, y morir a mitad de una línea del diario solo pierde esa
//! línea, que nunca se confirmó (su `fdatasync` no volvió). Si el diario
//! necesita una foto que falta o es más vieja que él, si falta el diario de
//! una foto, o si el diario es de antes de la foto y tiene operaciones
//! posteriores a ella (no es el suyo), el servidor no arranca: empezar sin
//! lo que falta borraría cuentas en silencio.
//!
//! Este módulo no sabe de reglas de dinero ni de concurrencia: lee y escribe
//! lo que `ledger` le entrega. Las reglas al volver a aplicar el diario son
//! las de `ledger`.

use serde::{Deserialize, Serialize};
use std::fmt;

mod error;
pub use error::StorageError;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Nombre de la foto dentro del directorio de datos.
pub const DATA_FILE: &str = "usuarios.json";

/// Nombre del diario dentro del directorio de datos.
pub const JOURNAL_FILE: &str = "diario.jsonl";

/// Nombre del archivo de candado dentro del directorio de datos.
pub const LOCK_FILE: &str = ".lock";

/// Versión del formato de la foto que escribe este código. La versión 1 (sin
/// `applied`, de antes del diario) se sigue leyendo.
const FORMAT_VERSION: u32 = 2;

/// Una cuenta tal como se guarda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// El nombre como se registró (las búsquedas no distinguen mayúsculas).
    pub name: String,
    /// El hash de la contraseña en formato PHC (`$argon2id$v=19$...`), que
    /// lleva su sal y sus parámetros. Nunca la contraseña.
    pub password_hash: String,
    /// Saldo en dólares; `null` mientras el usuario no responde
    /// "What is your balance?".
    pub balance: Option<u64>,
}

/// Una operación del diario. Los montos van en dólares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Cuenta nueva, sin saldo.
    Register { name: String, password_hash: String },
    /// Saldo inicial declarado.
    Balance { name: String, dollars: u64 },
    /// Transferencia de `from` a `to`.
    Transfer {
        from: String,
        to: String,
        dollars: u64,
    },
}

/// Una línea del diario: número de operación (creciente) y operación.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Número de la operación; la foto dice hasta cuál incluye.
    pub seq: u64,
    /// Qué se hizo.
    #[serde(flatten)]
    pub op: Op,
}

impl Entry {
    /// La línea del diario, con su `\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.write_line(&mut line);
        line
    }

    /// Agrega la línea del diario, con su `\n`, al final de `out` (sin
    /// un búfer intermedio: así la arma el libro, directo en lo pendiente).
    pub fn write_line(&self, out: &mut Vec<u8>) {
        let start = out.len();
        // Serializar estos tipos en memoria no falla (solo cadenas y
        // números); si fallara, no queda una línea a medias.
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.truncate(start);
            return;
        }
        out.push(b'\n');
    }
}

/// La cabecera del diario, su primera línea: el diario continúa la foto que
/// incluye hasta la operación `after_snapshot`. Sin ella, perder la foto
/// pasaría inadvertido: las operaciones del diario se aplicarían sobre cero
/// cuentas. (Un diario de antes de las cabeceras no la tiene.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    after_snapshot: u64,
}

impl Header {
    fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(&self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

#[derive(Deserialize)]
struct DataFile {
    version: u32,
    #[serde(default)]
    applied: u64,
    users: Vec<Record>,
}

/// Lo mismo para escribir, sin copiar las cuentas.
#[derive(Serialize)]
struct DataFileRef<'a> {
    version: u32,
    applied: u64,
    users: Vec<&'a Record>,
}

/// Lo que hay en disco al abrir: la foto y las operaciones posteriores.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Las cuentas de la foto.
    pub records: Vec<Record>,
    /// Última operación incluida en la foto.
    pub applied: u64,
    /// Operaciones del diario posteriores a la foto, en orden, con su número
    /// de línea (desde 1) para los mensajes de error.
    pub entries: Vec<(usize, Entry)>,
    /// Bytes de una última línea del diario sin su `\n` que se descartaron:
    /// una escritura cortada por una muerte o un corte de luz, que nunca se
    /// confirmó a nadie. 0 si no había.
    pub torn_bytes: u64,
    /// La foto es de antes del diario (versión 1): puede no tener diario.
    before_journal: bool,
}

/// El candado exclusivo de un directorio de datos: mientras vive, ningún
/// otro proceso puede tomarlo. Es un `flock(2)` sobre `DIR/.lock` (con
/// [`File::try_lock`] de `std`); el sistema lo suelta cuando el proceso
/// termina, aun con SIGKILL, así que nunca queda un candado viejo que haya
/// que borrar a mano.
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    _file: File,
}

impl DirLock {
    /// Crea `dir` si falta y toma su candado, sin esperar. Errores:
    /// [`StorageError::Locked`] si otro proceso lo tiene;
    /// [`StorageError::Io`] si no se puede crear el directorio o el archivo
    /// del candado.
    pub fn acquire(dir: &Path) -> Result<DirLock, StorageError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |error| StorageError::Io { path, error }
        };
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let path = dir.join(LOCK_FILE);
        // Para `flock` basta abrirlo para leer: así también se toma en un
        // directorio de solo lectura, y el error que se ve es el del diario.
        let file = match File::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path),
            other => other,
        }
        .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock {
                dir: dir.to_path_buf(),
                _file: file,
            }),
            Err(TryLockError::WouldBlock) => Err(StorageError::Locked {
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::Error(error)) => Err(io_error(&path)(error)),
        }
    }

    /// El directorio que protege.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Lo que el diario necesita del archivo donde se agrega. Es la costura
/// (*seam*) por donde las pruebas ponen un archivo que falla cuando ellas
/// dicen (ver las pruebas de `ledger`); en el servidor es un [`File`].
pub trait JournalFile: Send {
    /// Agrega `bytes` al final y los fuerza a disco (`write` + `fdatasync`).
    /// Error: el de E/S; puede haber quedado escrita una parte.
    fn append_durably(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Recorta el archivo a `len` bytes y lo fuerza a disco. Error: el de
    /// E/S.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl JournalFile for File {
    fn append_durably(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_data()
    }
}

/// Los archivos de datos de un directorio.
pub struct Store {
    dir: PathBuf,
    path: PathBuf,
    temp: PathBuf,
    /// El diario abierto para agregar. Queda abierto entre escrituras: con
    /// miles de sockets abiertos, abrirlo cada vez podría fallar por falta
    /// de descriptores.
    journal: Box<dyn JournalFile>,
    /// Bytes válidos del diario (cabecera incluida).
    journal_len: u64,
    /// Una escritura anterior falló y quizá dejó una línea a medias: antes
    /// de la próxima se recorta el diario a `journal_len`.
    needs_trim: bool,
    /// La última operación que incluye la foto en disco: va en la cabecera.
    after_snapshot: u64,
    /// La última foto no pudo dejar el diario en su cabecera: antes de la
    /// próxima escritura se deja (lo que tenía ya está en la foto). Sin
    /// esto, lo nuevo se agregaría a un diario que dice seguir a una foto
    /// más vieja, y al volver a abrir parecería de otro.
    needs_header: bool,
    _lock: DirLock,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("journal_len", &self.journal_len)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Abre el directorio de `lock` y lee la foto y el diario. Un directorio
    /// vacío es un comienzo en limpio: se escriben una foto vacía y un
    /// diario con su cabecera. Una última línea del diario sin `\n` (el
    /// proceso murió mientras la escribía, así que nunca se confirmó) se
    /// recorta, y [`Loaded::torn_bytes`] dice cuántos bytes tenía.
    ///
    /// Errores: [`StorageError::Io`] si no se puede leer un archivo o abrir
    /// el diario para escribir (un directorio de solo lectura se descubre
    /// aquí, al arrancar, y no con la primera transferencia);
    /// [`StorageError::Corrupt`] si la foto no es JSON del formato esperado,
    /// tiene nombres repetidos (sin distinguir mayúsculas) o inválidos, o si
    /// una línea completa del diario no se entiende o sus números no crecen;
    /// [`StorageError::MissingSnapshot`] si la cabecera del diario pide una
    /// foto que falta o es más vieja; [`StorageError::MissingJournal`] si
    /// hay foto y falta el diario, o si el diario es de antes de la foto y
    /// tiene operaciones posteriores a ella.
    pub fn open(lock: DirLock) -> Result<(Store, Loaded), StorageError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |error| StorageError::Io { path, error }
        };
        let dir = lock.dir().to_path_buf();
        let path = dir.join(DATA_FILE);
        let journal_path = dir.join(JOURNAL_FILE);
        let (mut loaded, has_snapshot) = match read_if_present(&path)? {
            Some(bytes) => (read_snapshot(&path, &bytes)?, true),
            None => (Loaded::default(), false),
        };
        let journal = match read_if_present(&journal_path)? {
            Some(journal) => journal,
            // El diario se crea al abrir, antes que la primera foto, y nunca
            // se borra: si falta, lo hecho después de la foto se perdió. (Una
            // foto de antes del diario no tiene uno.)
            None if has_snapshot && !loaded.before_journal => {
                return Err(StorageError::MissingJournal {
                    snapshot: path,
                    journal: journal_path,
                    applied: loaded.applied,
                    found: false,
                });
            }
            None => Vec::new(),
        };
        let complete = journal
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let older = replay(
            &journal[..complete],
            &journal_path,
            &path,
            has_snapshot,
            &mut loaded,
        )?;
        // El diario se abre ya, no en la primera operación: un directorio
        // o un diario sin permiso de escritura se descubre al arrancar, con
        // un error claro, y no con la primera transferencia de un cliente.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(io_error(&journal_path))?;
        let mut store = Store {
            temp: dir.join(format!("{DATA_FILE}.tmp")),
            dir,
            path,
            journal: Box::new(file),
            journal_len: complete as u64,
            needs_trim: false,
            after_snapshot: loaded.applied,
            // Un diario de antes de la foto: se deja en la cabecera que la
            // foto espera antes de agregarle nada.
            needs_header: older,
            _lock: lock,
        };
        loaded.torn_bytes = (journal.len() - complete) as u64;
        store.prepare(loaded.torn_bytes > 0, !has_snapshot && complete == 0)?;
        Ok((store, loaded))
    }

    /// Deja los archivos listos para escribir: sin la línea a medias del
    /// final (`torn`: lo siguiente no se pegaría a ella), con una foto vacía
    /// si el directorio es nuevo (`fresh`), y con la cabecera si el diario
    /// está vacío. Error: el de E/S, con el archivo que falló.
    fn prepare(&mut self, torn: bool, fresh: bool) -> Result<(), StorageError> {
        let journal_path = self.dir.join(JOURNAL_FILE);
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |error| StorageError::Io { path, error }
        };
        if torn {
            self.journal
                .truncate(self.journal_len)
                .map_err(io_error(&journal_path))?;
        }
        if fresh {
            let path = self.path.clone();
            self.snapshot(std::iter::empty(), 0)
                .map_err(io_error(&path))?;
        }
        if self.journal_len == 0 || self.needs_header {
            self.write_header().map_err(io_error(&journal_path))?;
            self.needs_header = false;
        }
        Ok(())
    }

    /// Agrega `bytes` (líneas completas del diario) al final del diario y
    /// los fuerza a disco: al volver `Ok`, sobreviven a un corte de luz.
    /// Errores: cualquier fallo de E/S (disco lleno, permisos); lo escrito
    /// a medias se recorta antes de la próxima escritura.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.needs_trim {
            self.journal.truncate(self.journal_len)?;
            self.needs_trim = false;
        }
        if self.journal_len == 0 || self.needs_header {
            // La cabecera no pudo escribirse tras la última foto.
            self.write_header()?;
            self.needs_header = false;
        }
        match self.journal.append_durably(bytes) {
            Ok(()) => {
                self.journal_len += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                // Quizá quedó media línea: se recorta ya, o antes de la
                // próxima escritura si tampoco se puede ahora.
                self.needs_trim = self.journal.truncate(self.journal_len).is_err();
                Err(error)
            }
        }
    }

    /// Deja el diario en solo su cabecera. Error: el de E/S (entonces se
    /// vuelve a intentar en la próxima escritura).
    fn write_header(&mut self) -> io::Result<()> {
        let line = Header {
            after_snapshot: self.after_snapshot,
        }
        .to_line();
        self.journal.truncate(0)?;
        self.journal_len = 0;
        self.journal.append_durably(&line)?;
        self.journal_len = line.len() as u64;
        Ok(())
    }

    /// Bytes en el diario desde la última foto (cabecera incluida).
    pub fn journal_bytes(&self) -> u64 {
        self.journal_len
    }

    /// Cambia el archivo del diario por lo que devuelva `wrap` (que recibe
    /// el actual): la costura de las pruebas para simular un disco que
    /// falla y después se recupera. Solo existe en las pruebas.
    #[cfg(test)]
    pub fn wrap_journal(
        &mut self,
        wrap: impl FnOnce(Box<dyn JournalFile>) -> Box<dyn JournalFile>,
    ) {
        let placeholder: Box<dyn JournalFile> = Box::new(Closed);
        let current = std::mem::replace(&mut self.journal, placeholder);
        self.journal = wrap(current);
    }

    /// Escribe una foto con estas cuentas, que incluye hasta la operación
    /// `applied`, de forma atómica y durable, y después deja el diario en
    /// su cabecera (que ahora nombra `applied`). Errores: cualquier fallo
    /// de E/S; la foto anterior y el diario quedan como estaban (o el
    /// diario ya vaciado, que es igual de válido: la foto nueva ya tiene
    /// todo).
    pub fn snapshot<'a>(
        &mut self,
        records: impl Iterator<Item = &'a Record>,
        applied: u64,
    ) -> io::Result<()> {
        let mut users: Vec<&Record> = records.collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        let body = DataFileRef {
            version: FORMAT_VERSION,
            applied,
            users,
        };
        let mut bytes = serde_json::to_vec_pretty(&body)?;
        bytes.push(b'\n');

        let mut file = File::create(&self.temp)?;
        file.write_all(&bytes)?;
        // Sin este fsync, tras un corte de luz el rename podría llegar al
        // disco antes que los datos y dejar un archivo vacío.
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.path)?;
        // El rename es un cambio del directorio: también hay que forzarlo
        // (POSIX pide `fsync` del directorio). Windows no deja abrir un
        // directorio como archivo (acceso denegado) y no lo necesita: su
        // sistema de archivos registra el rename en su propio diario.
        match File::open(&self.dir) {
            Ok(dir) => dir.sync_all()?,
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {}
            Err(error) => return Err(error),
        }
        self.after_snapshot = applied;
        let header = self.write_header();
        self.needs_header = header.is_err();
        header
    }
}

/// El lugar del diario mientras [`Store::wrap_journal`] lo cambia: nunca se
/// escribe en él.
#[cfg(test)]
struct Closed;

#[cfg(test)]
impl JournalFile for Closed {
    fn append_durably(&mut self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("the journal is not open"))
    }

    fn truncate(&mut self, _: u64) -> io::Result<()> {
        Err(io::Error::other("the journal is not open"))
    }
}

/// El contenido de `path`, o `None` si no existe (un directorio nuevo).
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(StorageError::Io {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Lee las líneas completas del diario (`journal`) sobre lo que dejó la
/// foto en `loaded`: la cabecera se comprueba (la foto de la que sigue el
/// diario debe estar, ver [`StorageError::MissingSnapshot`]) y cada
/// operación más nueva que la foto se agrega a `loaded.entries`, en orden.
/// Devuelve `true` si el diario es uno de antes de la foto (su cabecera
/// sigue a una foto más vieja), con nada posterior a ella: hay que dejarlo
/// en su cabecera. Errores: una línea que no se entiende o fuera de orden
/// ([`StorageError::Corrupt`]), la foto que falta, o un diario de antes de
/// la foto con operaciones posteriores a ella: no es el de esta foto
/// ([`StorageError::MissingJournal`]).
fn replay(
    journal: &[u8],
    journal_path: &Path,
    snapshot_path: &Path,
    has_snapshot: bool,
    loaded: &mut Loaded,
) -> Result<bool, StorageError> {
    let mut last = loaded.applied;
    // `true` si el diario sigue a una foto más vieja que la que está (la
    // muerte llegó entre escribir la foto y vaciarlo): todo lo suyo ya está
    // en la foto, y vale solo si no tiene nada posterior a ella.
    let mut older = false;
    for (index, line) in journal.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let corrupt = |detail: String| StorageError::Corrupt {
            path: journal_path.to_path_buf(),
            detail: format!("line {}: {detail}", index + 1),
        };
        if index == 0
            && let Ok(header) = serde_json::from_slice::<Header>(line)
        {
            // El diario continúa la foto hasta `needs`: si falta o es más
            // vieja, esas operaciones no están en ningún lado.
            let needs = header.after_snapshot;
            if needs > loaded.applied {
                return Err(StorageError::MissingSnapshot {
                    journal: journal_path.to_path_buf(),
                    snapshot: snapshot_path.to_path_buf(),
                    needs,
                    has: has_snapshot.then_some(loaded.applied),
                });
            }
            older = needs < loaded.applied;
            continue;
        }
        let entry: Entry = serde_json::from_slice(line).map_err(|e| corrupt(e.to_string()))?;
        if entry.seq <= loaded.applied {
            continue;
        }
        if older {
            return Err(StorageError::MissingJournal {
                snapshot: snapshot_path.to_path_buf(),
                journal: journal_path.to_path_buf(),
                applied: loaded.applied,
                found: true,
            });
        }
        if entry.seq <= last {
            return Err(corrupt(format!("operation {} out of order", entry.seq)));
        }
        last = entry.seq;
        loaded.entries.push((index + 1, entry));
    }
    Ok(older)
}

fn read_snapshot(path: &Path, bytes: &[u8]) -> Result<Loaded, StorageError> {
    let corrupt = |detail: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let file: DataFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FORMAT_VERSION && file.version != 1 {
        return Err(corrupt(format!("unknown format version {}", file.version)));
    }
    let mut seen = std::collections::HashSet::new();
    for record in &file.users {
        if crate::curso::protocolo::check_name(&record.name).is_err() {
            return Err(corrupt(format!("invalid user name {:?}", record.name)));
        }
        if !seen.insert(crate::curso::protocolo::name_key(&record.name)) {
            return Err(corrupt(format!("user {} appears twice", record.name)));
        }
    }
    Ok(Loaded {
        records: file.users,
        applied: file.applied,
        entries: Vec::new(),
        torn_bytes: 0,
        before_journal: file.version == 1,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Abre el directorio como lo hace el servidor: candado y después datos.
    fn open(dir: &Path) -> Result<(Store, Loaded), StorageError> {
        Store::open(DirLock::acquire(dir)?)
    }

    fn record(name: &str, balance: Option<u64>) -> Record {
        Record {
            name: name.into(),
            password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            balance,
        }
    }

    fn transfer(seq: u64, dollars: u64) -> Entry {
        Entry {
            seq,
            op: Op::Transfer {
                from: "alice".into(),
                to: "bob".into(),
                dollars,
            },
        }
    }

    /// Qué hace el próximo `append_durably` de un [`Faulty`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Fault {
        /// Escribe de verdad.
        Pass,
        /// Escribe la mitad y falla, como un disco que se llena a mitad de
        /// línea (ENOSPC).
        Torn,
        /// Falla sin escribir nada.
        Fail,
    }

    /// Un diario que falla cuando la prueba dice: `plan` decide cada
    /// escritura, con su número (desde 0), y después se recupera. Así se
    /// prueba un fallo **seguido de** un éxito, que es donde se escondía la
    /// confirmación falsa.
    pub(crate) struct Faulty {
        pub inner: Box<dyn JournalFile>,
        pub plan: Arc<Mutex<dyn FnMut(usize) -> Fault + Send>>,
        pub writes: usize,
    }

    impl JournalFile for Faulty {
        fn append_durably(&mut self, bytes: &[u8]) -> io::Result<()> {
            let fault = (self.plan.lock().expect("plan"))(self.writes);
            self.writes += 1;
            let full = || io::Error::from_raw_os_error(28);
            match fault {
                Fault::Pass => self.inner.append_durably(bytes),
                Fault::Torn => {
                    self.inner.append_durably(&bytes[..bytes.len() / 2])?;
                    Err(full())
                }
                Fault::Fail => Err(full()),
            }
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.inner.truncate(len)
        }
    }

    #[test]
    fn a_missing_directory_is_a_fresh_start_and_snapshots_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("datos");
        let (mut store, loaded) = open(&data).expect("open");
        assert!(loaded.records.is_empty() && loaded.entries.is_empty());
        assert!(
            data.join(DATA_FILE).exists(),
            "una foto vacía desde el inicio"
        );
        let saved = [record("bob", None), record("alice", Some(50_000))];
        store.snapshot(saved.iter(), 7).expect("snapshot");
        drop(store);
        let (_, loaded) = open(&data).expect("reopen");
        assert_eq!(loaded.records, vec![saved[1].clone(), saved[0].clone()]);
        assert_eq!(loaded.applied, 7);
        assert!(!data.join("usuarios.json.tmp").exists());
    }

    #[test]
    fn the_journal_is_replayed_after_the_snapshot_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open(dir.path()).expect("open");
        store
            .snapshot([record("alice", Some(10))].iter(), 2)
            .expect("snapshot");
        // Una operación ya incluida en la foto (2) no se vuelve a aplicar:
        // así queda el diario si el proceso muere justo tras la foto.
        for seq in [2, 3, 4] {
            store.append(&transfer(seq, seq).to_line()).expect("append");
        }
        drop(store);
        let mut torn = transfer(5, 5).to_line();
        torn.truncate(torn.len() / 2);
        let path = dir.path().join(JOURNAL_FILE);
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(&torn).expect("write");
        drop(file);

        let (mut store, loaded) = open(dir.path()).expect("reopen");
        let seqs: Vec<u64> = loaded.entries.iter().map(|(_, e)| e.seq).collect();
        assert_eq!(seqs, [3, 4]);
        assert_eq!(loaded.torn_bytes, torn.len() as u64);
        // La línea a medias se quitó: lo siguiente empieza en una línea nueva.
        store.append(&transfer(6, 6).to_line()).expect("append");
        drop(store);
        let (_, loaded) = open(dir.path()).expect("reopen");
        let seqs: Vec<u64> = loaded.entries.iter().map(|(_, e)| e.seq).collect();
        assert_eq!(seqs, [3, 4, 6]);
        assert_eq!(loaded.torn_bytes, 0);
    }

    #[test]
    fn a_snapshot_leaves_only_the_header_in_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open(dir.path()).expect("open");
        let header = store.journal_bytes();
        store.append(&transfer(1, 1).to_line()).expect("append");
        assert!(store.journal_bytes() > header);
        store
            .snapshot([record("alice", Some(1))].iter(), 1)
            .expect("snapshot");
        assert_eq!(store.journal_bytes(), header);
        drop(store);
        let journal = fs::read_to_string(dir.path().join(JOURNAL_FILE)).expect("diario");
        assert_eq!(journal, "{\"after_snapshot\":1}\n");
        let (_, loaded) = open(dir.path()).expect("reopen");
        assert!(loaded.entries.is_empty());
        assert_eq!(loaded.records, [record("alice", Some(1))]);
    }

    /// Los archivos que escribía la versión que nombraba cada diario (un
    /// campo `journal` en la foto y en la cabecera) se siguen leyendo.
    #[test]
    fn files_that_named_their_journal_are_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let users = serde_json::to_string(&[record("alice", Some(1))]).expect("JSON");
        let snapshot = format!(r#"{{"version":2,"applied":1,"journal":"00ff","users":{users}}}"#);
        fs::write(dir.path().join(DATA_FILE), snapshot).expect("foto");
        let mut journal = br#"{"after_snapshot":1,"journal":"00ff"}"#.to_vec();
        journal.push(b'\n');
        journal.extend(transfer(2, 1).to_line());
        fs::write(dir.path().join(JOURNAL_FILE), journal).expect("diario");
        let (_, loaded) = open(dir.path()).expect("se lee");
        assert_eq!(loaded.records, [record("alice", Some(1))]);
        assert_eq!(loaded.entries.len(), 1);
    }

    /// Lo hecho después de una foto solo está en el diario: si el diario de
    /// la foto falta, arrancar sin él lo perdería en silencio.
    #[test]
    fn a_snapshot_whose_journal_is_missing_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open(dir.path()).expect("open");
        store.append(&transfer(1, 1).to_line()).expect("append");
        store
            .snapshot([record("alice", Some(1))].iter(), 1)
            .expect("snapshot");
        store.append(&transfer(2, 1).to_line()).expect("append");
        drop(store);
        let snapshot = fs::read(dir.path().join(DATA_FILE)).expect("foto");
        fs::remove_file(dir.path().join(JOURNAL_FILE)).expect("borrar el diario");
        let error = open(dir.path()).expect_err("sin su diario no arranca");
        assert!(
            matches!(
                error,
                StorageError::MissingJournal {
                    applied: 1,
                    found: false,
                    ..
                }
            ),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains(DATA_FILE) && text.contains(JOURNAL_FILE),
            "{text}"
        );
        assert!(text.contains("is missing"), "{text}");
        assert_eq!(
            fs::read(dir.path().join(DATA_FILE)).expect("foto"),
            snapshot
        );
        assert!(!dir.path().join(JOURNAL_FILE).exists(), "no se creó otro");
    }

    /// Morir entre escribir la foto y vaciar el diario deja el diario de
    /// antes, con el nombre viejo: todo lo suyo ya está en la foto, y vale.
    /// Otro diario con operaciones posteriores a la foto no es el suyo.
    #[test]
    fn the_journal_before_a_snapshot_is_accepted_but_a_foreign_one_with_newer_operations_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal_path = dir.path().join(JOURNAL_FILE);
        let (mut store, _) = open(dir.path()).expect("open");
        store.append(&transfer(1, 1).to_line()).expect("append");
        let before = fs::read(&journal_path).expect("diario");
        store
            .snapshot([record("alice", Some(1))].iter(), 1)
            .expect("snapshot");
        drop(store);
        fs::write(&journal_path, &before).expect("el diario de antes");
        let (mut store, loaded) = open(dir.path()).expect("el diario de antes vale");
        assert!(loaded.entries.is_empty());
        // Queda en la cabecera que la foto espera: lo nuevo se lee después.
        store.append(&transfer(2, 1).to_line()).expect("append");
        drop(store);
        let (_, loaded) = open(dir.path()).expect("reopen");
        assert_eq!(loaded.entries.len(), 1);

        let mut foreign = before;
        foreign.extend(transfer(2, 1).to_line());
        fs::write(&journal_path, &foreign).expect("otro diario");
        let error = open(dir.path()).expect_err("otro diario con algo nuevo");
        assert!(
            matches!(error, StorageError::MissingJournal { found: true, .. }),
            "{error:?}"
        );
        assert_eq!(fs::read(&journal_path).expect("diario"), foreign);
    }

    /// Tras una foto, el diario sigue desde la operación 1001: sin la foto,
    /// empezar de cero borraría cuentas y dejaría registrar sus nombres.
    #[test]
    fn a_journal_whose_snapshot_is_missing_or_older_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open(dir.path()).expect("open");
        store
            .snapshot([record("rich", Some(1_000_000_000))].iter(), 1000)
            .expect("snapshot");
        store.append(&transfer(1001, 1).to_line()).expect("append");
        drop(store);
        let snapshot = dir.path().join(DATA_FILE);
        let journal = dir.path().join(JOURNAL_FILE);
        let kept = fs::read(&journal).expect("diario");
        let newer = fs::read(&snapshot).expect("foto");

        fs::rename(&snapshot, dir.path().join("aparte")).expect("rename");
        let message = open(dir.path()).expect_err("sin foto").to_string();
        assert!(
            message.contains("diario.jsonl")
                && message.contains("usuarios.json is missing")
                && message.contains("operation 1000"),
            "{message}"
        );
        // Una foto más vieja que el diario (una copia de seguridad anterior).
        fs::write(&snapshot, b"{\"version\":2,\"applied\":10,\"users\":[]}").expect("foto");
        let message = open(dir.path()).expect_err("foto vieja").to_string();
        assert!(
            message.contains("only includes up to operation 10"),
            "{message}"
        );
        // Nada se tocó: con la foto que va con el diario, todo vuelve.
        assert_eq!(fs::read(&journal).expect("diario"), kept);
        fs::write(&snapshot, &newer).expect("foto");
        let (_, loaded) = open(dir.path()).expect("reopen");
        assert_eq!(loaded.records, [record("rich", Some(1_000_000_000))]);
        assert_eq!(loaded.entries.len(), 1);
    }

    #[test]
    fn one_directory_one_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = open(dir.path()).expect("open");
        let error = open(dir.path()).expect_err("el segundo no debe abrir");
        assert!(matches!(error, StorageError::Locked { .. }), "{error}");
        assert!(error.to_string().contains("in use by another servidor"));
        // Al soltar el primero (o al morir su proceso), el candado se libera.
        drop(first);
        open(dir.path()).expect("reopen");
    }

    #[test]
    fn a_failed_write_is_trimmed_before_the_next_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open(dir.path()).expect("open");
        let plan = Arc::new(Mutex::new(|write: usize| match write {
            0 => Fault::Torn,
            _ => Fault::Pass,
        }));
        store.wrap_journal(|inner| {
            Box::new(Faulty {
                inner,
                plan,
                writes: 0,
            })
        });
        assert!(store.append(&transfer(1, 1).to_line()).is_err());
        store.append(&transfer(2, 2).to_line()).expect("append");
        drop(store);
        let (_, loaded) = open(dir.path()).expect("reopen");
        let seqs: Vec<u64> = loaded.entries.iter().map(|(_, e)| e.seq).collect();
        assert_eq!(seqs, [2], "la mitad de la 1 no quedó pegada a la 2");
        assert_eq!(loaded.torn_bytes, 0);
    }

    #[test]
    fn a_corrupt_file_is_reported_by_name_and_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DATA_FILE);
        for content in [
            "{\"version\":1,\"users\":[",
            "not json",
            "{\"version\":7,\"users\":[]}",
            "{\"version\":1,\"users\":[{\"name\":\"a\",\"password_hash\":\"h\",\"balance\":1},\
             {\"name\":\"A\",\"password_hash\":\"h\",\"balance\":1}]}",
            "{\"version\":1,\"users\":[{\"name\":\"a b\",\"password_hash\":\"h\",\"balance\":1}]}",
            "{\"version\":1,\"users\":[{\"name\":\"a\",\"password_hash\":\"h\",\"balance\":-1}]}",
        ] {
            fs::write(&path, content).expect("write");
            let error = open(dir.path()).expect_err(content);
            let message = error.to_string();
            assert!(message.contains("usuarios.json"), "{message}");
            assert_eq!(fs::read_to_string(&path).expect("read"), content);
        }
    }

    #[test]
    fn a_corrupt_journal_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(JOURNAL_FILE);
        let good = String::from_utf8(transfer(1, 1).to_line()).expect("utf8");
        for (content, line) in [
            (format!("{good}basura\n{good}"), "line 2"),
            (format!("{good}{good}"), "line 2: operation 1 out of order"),
        ] {
            fs::write(&path, &content).expect("write");
            let message = open(dir.path()).expect_err(&content).to_string();
            assert!(
                message.contains("diario.jsonl") && message.contains(line),
                "{message}"
            );
            assert_eq!(fs::read_to_string(&path).expect("read"), content);
        }
    }

    #[test]
    fn a_leftover_temporary_file_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open(dir.path()).expect("open");
        store
            .snapshot([record("alice", Some(1))].iter(), 0)
            .expect("snapshot");
        drop(store);
        // Un proceso muerto a mitad de escritura deja el temporal a medias.
        fs::write(dir.path().join("usuarios.json.tmp"), "{\"vers").expect("write");
        let (mut store, loaded) = open(dir.path()).expect("reopen");
        assert_eq!(loaded.records, vec![record("alice", Some(1))]);
        store
            .snapshot(loaded.records.iter(), 0)
            .expect("save over the leftover");
    }
}
