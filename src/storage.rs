//! La persistencia de las cuentas: el archivo `usuarios.json` dentro del
//! directorio de datos, su formato, y cómo se reemplaza de forma atómica.
//!
//! Este módulo no sabe de reglas de dinero ni de concurrencia: guarda lo que
//! `ledger` le entrega, cuando `ledger` se lo pide (con su candado tomado).
//!
//! La regla (issue #2): un cambio está en disco antes de que el servidor lo
//! confirme, y matar el proceso en cualquier instante deja un archivo legible.
//! Por eso se escribe un archivo temporal, se fuerza a disco (`fsync`) y se
//! renombra sobre el original: en POSIX `rename` es atómico, así que quien
//! lea el archivo ve la versión vieja entera o la nueva entera, nunca una
//! mezcla.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Nombre del archivo de datos dentro del directorio de datos.
pub const DATA_FILE: &str = "usuarios.json";

/// Versión del formato que escribe este código.
const FORMAT_VERSION: u32 = 1;

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

#[derive(Deserialize)]
struct DataFile {
    version: u32,
    users: Vec<Record>,
}

/// Lo mismo para escribir, sin copiar las cuentas.
#[derive(Serialize)]
struct DataFileRef<'a> {
    version: u32,
    users: Vec<&'a Record>,
}

/// Un archivo de datos que no se puede usar. El servidor se detiene con este
/// mensaje y nunca sobrescribe el archivo, para que nadie pierda sus datos
/// por un error de lectura.
#[derive(Debug)]
pub enum StorageError {
    /// No se pudo crear o leer el directorio o el archivo.
    Io { path: PathBuf, error: io::Error },
    /// El archivo existe pero no es un `usuarios.json` válido.
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

/// El archivo de datos de un directorio.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    path: PathBuf,
    temp: PathBuf,
}

impl Store {
    /// Abre (creándolo si falta) el directorio `dir` y lee sus cuentas.
    ///
    /// Un archivo ausente es un comienzo en limpio (cero cuentas). Errores:
    /// [`StorageError::Io`] si no se puede crear el directorio o leer el
    /// archivo; [`StorageError::Corrupt`] si no es JSON del formato esperado
    /// o tiene nombres repetidos (sin distinguir mayúsculas) o inválidos.
    pub fn open(dir: &Path) -> Result<(Store, Vec<Record>), StorageError> {
        fs::create_dir_all(dir).map_err(|error| StorageError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        let store = Store {
            dir: dir.to_path_buf(),
            path: dir.join(DATA_FILE),
            temp: dir.join(format!("{DATA_FILE}.tmp")),
        };
        let bytes = match fs::read(&store.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((store, Vec::new())),
            Err(error) => {
                return Err(StorageError::Io {
                    path: store.path,
                    error,
                });
            }
        };
        let corrupt = |detail: String| StorageError::Corrupt {
            path: store.path.clone(),
            detail,
        };
        let file: DataFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.version != FORMAT_VERSION {
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
        Ok((store, file.users))
    }

    /// Reemplaza el archivo con estas cuentas, de forma atómica y durable:
    /// al volver `Ok`, los datos están en disco. Errores: cualquier fallo de
    /// E/S (disco lleno, permisos); el archivo anterior queda intacto.
    pub fn save<'a>(&self, records: impl Iterator<Item = &'a Record>) -> io::Result<()> {
        let mut users: Vec<&Record> = records.collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        let body = DataFileRef {
            version: FORMAT_VERSION,
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
        File::open(&self.dir)?.sync_all()
    }
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

    #[test]
    fn a_missing_file_is_a_fresh_start_and_saves_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, records) = Store::open(&dir.path().join("datos")).expect("open");
        assert!(records.is_empty());
        let saved = [record("bob", None), record("alice", Some(50_000))];
        store.save(saved.iter()).expect("save");
        let (_, loaded) = Store::open(&dir.path().join("datos")).expect("reopen");
        assert_eq!(loaded, vec![saved[1].clone(), saved[0].clone()]);
        assert!(!dir.path().join("datos").join("usuarios.json.tmp").exists());
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
    fn a_leftover_temporary_file_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = Store::open(dir.path()).expect("open");
        store.save([record("alice", Some(1))].iter()).expect("save");
        // Un proceso muerto a mitad de escritura deja el temporal a medias.
        fs::write(dir.path().join("usuarios.json.tmp"), "{\"vers").expect("write");
        let (store, loaded) = Store::open(dir.path()).expect("reopen");
        assert_eq!(loaded, vec![record("alice", Some(1))]);
        store.save(loaded.iter()).expect("save over the leftover");
    }
}
