//! La persistencia de las cuentas: dos archivos en el directorio de datos.
//!
//! - `diario.jsonl`, el **diario** (*journal*): una línea JSON por operación
//!   confirmada (registro, saldo inicial, transferencia), siempre agregada al
//!   final (`O_APPEND`) y forzada a disco (`fdatasync`) antes de confirmar.
//!   Guardar una transferencia cuesta lo mismo con 10 cuentas que con 10.000.
//! - `usuarios.json`, la **foto** (*snapshot*): todas las cuentas, con el
//!   número de la última operación que incluye (`applied`). Cuando el diario
//!   crece, se escribe una foto nueva (temporal + `fsync` + `rename`, atómico
//!   en POSIX) y se vacía el diario.
//!
//! Al abrir: foto + las operaciones del diario con número mayor que
//! `applied`. Así, morir entre escribir la foto y vaciar el diario no aplica
//! nada dos veces, y morir a mitad de una línea del diario solo pierde esa
//! línea, que nunca se confirmó (su `fdatasync` no volvió).
//!
//! Este módulo no sabe de reglas de dinero ni de concurrencia: lee y escribe
//! lo que `ledger` le entrega. Las reglas al volver a aplicar el diario son
//! las de `ledger`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Nombre de la foto dentro del directorio de datos.
pub const DATA_FILE: &str = "usuarios.json";

/// Nombre del diario dentro del directorio de datos.
pub const JOURNAL_FILE: &str = "diario.jsonl";

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
}

/// Un archivo de datos que no se puede usar. El servidor se detiene con este
/// mensaje y nunca sobrescribe el archivo, para que nadie pierda sus datos
/// por un error de lectura.
#[derive(Debug)]
pub enum StorageError {
    /// No se pudo crear o leer el directorio o un archivo.
    Io { path: PathBuf, error: io::Error },
    /// El archivo existe pero su contenido no es válido.
    Corrupt { path: PathBuf, detail: String },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { path, error } => {
                write!(f, "cannot use the data file {}: {error}", path.display())
            }
            StorageError::Corrupt { path, detail } => write!(
                f,
                "the data file {} is unreadable or corrupt ({detail}); \
                 fix or move it away, it will not be overwritten",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StorageError {}

/// Los archivos de datos de un directorio.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    path: PathBuf,
    temp: PathBuf,
    journal: PathBuf,
    /// Bytes válidos del diario: tras un `write` fallido a medias, se
    /// recorta hasta aquí antes de volver a escribir.
    journal_len: u64,
    /// El diario abierto para agregar, con su número de inodo.
    journal_file: Option<(File, u64)>,
}

impl Store {
    /// Abre (creándolo si falta) el directorio `dir` y lee la foto y el
    /// diario. Un directorio vacío es un comienzo en limpio: se escribe una
    /// foto vacía. Una última línea del diario sin `\n` (el proceso murió
    /// mientras la escribía, así que nunca se confirmó) se descarta.
    ///
    /// Errores: [`StorageError::Io`] si no se puede crear el directorio o
    /// leer un archivo; [`StorageError::Corrupt`] si la foto no es JSON del
    /// formato esperado, tiene nombres repetidos (sin distinguir mayúsculas)
    /// o inválidos, o si una línea completa del diario no se entiende o sus
    /// números no crecen.
    pub fn open(dir: &Path) -> Result<(Store, Loaded), StorageError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |error| StorageError::Io { path, error }
        };
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            path: dir.join(DATA_FILE),
            temp: dir.join(format!("{DATA_FILE}.tmp")),
            journal: dir.join(JOURNAL_FILE),
            journal_len: 0,
            journal_file: None,
        };
        let mut loaded = match fs::read(&store.path) {
            Ok(bytes) => read_snapshot(&store.path, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Loaded::default(),
            Err(error) => return Err(io_error(&store.path)(error)),
        };
        let journal = match fs::read(&store.journal) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(io_error(&store.journal)(error)),
        };
        let complete = journal
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let mut last = loaded.applied;
        for (index, line) in journal[..complete].split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let corrupt = |detail: String| StorageError::Corrupt {
                path: store.journal.clone(),
                detail: format!("line {}: {detail}", index + 1),
            };
            let entry: Entry = serde_json::from_slice(line).map_err(|e| corrupt(e.to_string()))?;
            if entry.seq <= loaded.applied {
                continue;
            }
            if entry.seq <= last {
                return Err(corrupt(format!("operation {} out of order", entry.seq)));
            }
            last = entry.seq;
            loaded.entries.push((index + 1, entry));
        }
        if complete < journal.len() {
            // La línea a medias se quita para que lo siguiente no se pegue a ella.
            let file = OpenOptions::new()
                .write(true)
                .open(&store.journal)
                .map_err(io_error(&store.journal))?;
            file.set_len(complete as u64)
                .and_then(|()| file.sync_all())
                .map_err(io_error(&store.journal))?;
        }
        store.journal_len = complete as u64;
        if journal.is_empty() && !store.path.exists() {
            store
                .snapshot(std::iter::empty(), 0)
                .map_err(io_error(&store.path))?;
        }
        // El diario se abre ya, no en la primera operación: un directorio
        // o un diario sin permiso de escritura se descubre al arrancar, con
        // un error claro, y no con la primera transferencia de un cliente.
        store.open_journal().map_err(io_error(&store.journal))?;
        Ok((store, loaded))
    }

    /// Agrega `bytes` (líneas completas del diario) al final del diario y
    /// los fuerza a disco: al volver `Ok`, sobreviven a un corte de luz. El
    /// archivo queda abierto entre llamadas (con miles de sockets abiertos,
    /// abrirlo cada vez podría fallar por falta de descriptores), pero si
    /// otro archivo tomó su nombre (una prueba lo cambia por un enlace a
    /// `/dev/full`), se abre el nuevo. Errores: cualquier fallo de E/S
    /// (disco lleno, permisos); lo escrito a medias se recorta.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let current = fs::metadata(&self.journal).map(|m| m.ino()).ok();
        let reopen =
            !matches!((&self.journal_file, current), (Some((_, open)), Some(now)) if *open == now);
        if reopen {
            self.open_journal()?;
        }
        let Some((file, _)) = &mut self.journal_file else {
            return Err(io::Error::other("the journal is not open"));
        };
        let meta = file.metadata()?;
        let regular = meta.is_file();
        if regular && meta.len() != self.journal_len {
            file.set_len(self.journal_len)?;
        }
        let written = file.write_all(bytes).and_then(|()| file.sync_data());
        match written {
            Ok(()) => {
                self.journal_len += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                if regular {
                    let _ = file.set_len(self.journal_len);
                }
                Err(error)
            }
        }
    }

    /// Abre (o crea) el diario para agregar al final. Error: el de `open`
    /// (sin permiso, directorio de solo lectura...).
    fn open_journal(&mut self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal)?;
        let inode = file.metadata()?.ino();
        self.journal_file = Some((file, inode));
        Ok(())
    }

    /// Bytes en el diario desde la última foto.
    pub fn journal_bytes(&self) -> u64 {
        self.journal_len
    }

    /// Escribe una foto con estas cuentas, que incluye hasta la operación
    /// `applied`, de forma atómica y durable, y después vacía el diario.
    /// Errores: cualquier fallo de E/S; la foto anterior y el diario quedan
    /// como estaban (o el diario ya vaciado, que es igual de válido: la foto
    /// nueva ya tiene todo).
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
        // El rename es un cambio del directorio: también hay que forzarlo.
        File::open(&self.dir)?.sync_all()?;
        if self.journal_len > 0 {
            let journal = OpenOptions::new().write(true).open(&self.journal)?;
            journal.set_len(0)?;
            journal.sync_all()?;
            self.journal_len = 0;
        }
        Ok(())
    }
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
        if crate::protocolo::check_name(&record.name).is_err() {
            return Err(corrupt(format!("invalid user name {:?}", record.name)));
        }
        if !seen.insert(crate::protocolo::name_key(&record.name)) {
            return Err(corrupt(format!("user {} appears twice", record.name)));
        }
    }
    Ok(Loaded {
        records: file.users,
        applied: file.applied,
        entries: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_missing_directory_is_a_fresh_start_and_snapshots_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("datos");
        let (mut store, loaded) = Store::open(&data).expect("open");
        assert!(loaded.records.is_empty() && loaded.entries.is_empty());
        assert!(
            data.join(DATA_FILE).exists(),
            "una foto vacía desde el inicio"
        );
        let saved = [record("bob", None), record("alice", Some(50_000))];
        store.snapshot(saved.iter(), 7).expect("snapshot");
        let (_, loaded) = Store::open(&data).expect("reopen");
        assert_eq!(loaded.records, vec![saved[1].clone(), saved[0].clone()]);
        assert_eq!(loaded.applied, 7);
        assert!(!data.join("usuarios.json.tmp").exists());
    }

    #[test]
    fn the_journal_is_replayed_after_the_snapshot_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = Store::open(dir.path()).expect("open");
        store
            .snapshot([record("alice", Some(10))].iter(), 2)
            .expect("snapshot");
        // Una operación ya incluida en la foto (2) no se vuelve a aplicar:
        // así queda el diario si el proceso muere justo tras la foto.
        for seq in [2, 3, 4] {
            store.append(&transfer(seq, seq).to_line()).expect("append");
        }
        let mut torn = transfer(5, 5).to_line();
        torn.truncate(torn.len() / 2);
        let path = dir.path().join(JOURNAL_FILE);
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(&torn).expect("write");
        drop(file);

        let (mut store, loaded) = Store::open(dir.path()).expect("reopen");
        let seqs: Vec<u64> = loaded.entries.iter().map(|(_, e)| e.seq).collect();
        assert_eq!(seqs, [3, 4]);
        // La línea a medias se quitó: lo siguiente empieza en una línea nueva.
        store.append(&transfer(6, 6).to_line()).expect("append");
        let (_, loaded) = Store::open(dir.path()).expect("reopen");
        let seqs: Vec<u64> = loaded.entries.iter().map(|(_, e)| e.seq).collect();
        assert_eq!(seqs, [3, 4, 6]);
    }

    #[test]
    fn a_snapshot_empties_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = Store::open(dir.path()).expect("open");
        store.append(&transfer(1, 1).to_line()).expect("append");
        assert!(store.journal_bytes() > 0);
        store
            .snapshot([record("alice", Some(1))].iter(), 1)
            .expect("snapshot");
        assert_eq!(store.journal_bytes(), 0);
        let (_, loaded) = Store::open(dir.path()).expect("reopen");
        assert!(loaded.entries.is_empty());
        assert_eq!(loaded.records, [record("alice", Some(1))]);
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
            let error = Store::open(dir.path()).expect_err(content);
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
            let message = Store::open(dir.path()).expect_err(&content).to_string();
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
        let (mut store, _) = Store::open(dir.path()).expect("open");
        store
            .snapshot([record("alice", Some(1))].iter(), 0)
            .expect("snapshot");
        // Un proceso muerto a mitad de escritura deja el temporal a medias.
        fs::write(dir.path().join("usuarios.json.tmp"), "{\"vers").expect("write");
        let (mut store, loaded) = Store::open(dir.path()).expect("reopen");
        assert_eq!(loaded.records, vec![record("alice", Some(1))]);
        store
            .snapshot(loaded.records.iter(), 0)
            .expect("save over the leftover");
    }
}
