//! Por qué no se puede usar el directorio de datos ([`StorageError`]), con
//! un mensaje que nombra el archivo y dice qué hacer. Es parte de
//! [`crate::curso::storage`].

use super::LOCK_FILE;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Un archivo de datos que no se puede usar. El servidor se detiene con este
/// mensaje y nunca sobrescribe el archivo, para que nadie pierda sus datos
/// por un error de lectura.
#[derive(Debug)]
pub enum StorageError {
    /// No se pudo crear o leer el directorio o un archivo.
    Io { path: PathBuf, error: io::Error },
    /// El archivo existe pero su contenido no es válido.
    Corrupt { path: PathBuf, detail: String },
    /// Otro proceso tiene tomado el candado del directorio: otro servidor
    /// lo está usando.
    Locked { dir: PathBuf },
    /// El diario continúa una foto (`needs`: hasta qué operación) que falta
    /// (`has` = `None`) o es más vieja (`has`: hasta dónde llega).
    MissingSnapshot {
        journal: PathBuf,
        snapshot: PathBuf,
        needs: u64,
        has: Option<u64>,
    },
    /// A la foto (que incluye hasta la operación `applied`) le falta el
    /// diario que la continúa (`found` = `false`), o el que está es de
    /// antes de ella y tiene operaciones posteriores (`found` = `true`): lo
    /// hecho después de la foto no está, o no es de esta foto.
    MissingJournal {
        snapshot: PathBuf,
        journal: PathBuf,
        applied: u64,
        found: bool,
    },
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
            StorageError::Locked { dir } => write!(
                f,
                "the data directory {} is in use by another servidor \
                 (it holds {}); stop that one or pass another --data-dir",
                dir.display(),
                dir.join(LOCK_FILE).display()
            ),
            StorageError::MissingSnapshot {
                journal,
                snapshot,
                needs,
                has,
            } => {
                let found = match has {
                    None => "is missing".to_string(),
                    Some(applied) => format!("only includes up to operation {applied}"),
                };
                write!(
                    f,
                    "the journal {} continues the snapshot up to operation {needs}, \
                     but {} {found}; restore the snapshot that goes with this journal \
                     (starting from zero would lose accounts); nothing was changed",
                    journal.display(),
                    snapshot.display()
                )
            }
            StorageError::MissingJournal {
                snapshot,
                journal,
                applied,
                found,
            } => {
                let what = if *found {
                    "is another journal, with operations after the snapshot"
                } else {
                    "is missing"
                };
                write!(
                    f,
                    "the snapshot {} (up to operation {applied}) is continued by the journal {}, \
                     but {} {what}; restore the journal that goes with this snapshot \
                     (starting without it would lose what was done after the snapshot); \
                     nothing was changed",
                    snapshot.display(),
                    journal.display(),
                    journal.display()
                )
            }
        }
    }
}

impl std::error::Error for StorageError {}
