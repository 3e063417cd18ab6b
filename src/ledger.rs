//! El libro de cuentas (*ledger*): las cuentas, sus contraseñas (como hash) y
//! sus saldos en dólares, en un `HashMap` protegido por un `Mutex`.
//!
//! Aquí viven las reglas del dinero (enunciado 004, puntos 6 y 8): ningún
//! saldo queda negativo, una transferencia es un solo paso atómico y la suma
//! de todos los saldos solo cambia cuando alguien declara su saldo inicial.
//! Cada cambio se guarda en disco (con `storage`) *antes* de aplicarse en
//! memoria y de confirmarse, con el candado tomado: si el disco falla, nada
//! cambia. No sabe de sockets ni de quién está conectado: eso es de `room`.

use crate::password::{HashCost, Hasher};
use crate::protocolo::name_key;
use crate::storage::{Record, StorageError, Store};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

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

/// El resultado de una transferencia: los saldos justo después de ella.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Saldo nuevo de quien envía, en dólares.
    pub from_balance: u64,
    /// Nombre del destinatario tal como se registró.
    pub to_name: String,
    /// Saldo nuevo del destinatario, en dólares.
    pub to_balance: u64,
}

/// El libro de cuentas compartido por todos los hilos.
pub struct Ledger {
    accounts: Mutex<Accounts>,
    hasher: Hasher,
}

/// Lo que protege el candado: las cuentas por clave en minúsculas, y el
/// archivo, para que dos hilos nunca escriban el archivo a la vez.
struct Accounts {
    by_key: HashMap<String, Record>,
    store: Store,
}

impl Ledger {
    /// Abre el libro guardado en `data_dir` (ver [`Store::open`] para los
    /// errores). `cost` es el costo de los hashes nuevos.
    pub fn open(data_dir: &Path, cost: HashCost) -> Result<Ledger, StorageError> {
        let (store, records) = Store::open(data_dir)?;
        let by_key = records
            .into_iter()
            .map(|r| (name_key(&r.name), r))
            .collect();
        Ok(Ledger {
            accounts: Mutex::new(Accounts { by_key, store }),
            hasher: Hasher::new(cost),
        })
    }

    /// Toma el candado. Si otro hilo entró en pánico con él tomado, los datos
    /// siguen siendo coherentes (todo cambio se hace después de guardar, en un
    /// paso que no puede fallar), así que se sigue usando en vez de propagar
    /// el pánico a todos los clientes.
    fn lock(&self) -> MutexGuard<'_, Accounts> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Crea la cuenta `name` con la contraseña dada, sin saldo todavía.
    /// Devuelve el nombre registrado. El hash (lo caro) se calcula sin el
    /// candado, para no frenar a los demás. Errores: `NameTaken`, `Storage`.
    pub fn register(&self, name: &str, password: &str) -> Result<String, LedgerError> {
        let key = name_key(name);
        if self.lock().by_key.contains_key(&key) {
            return Err(LedgerError::NameTaken);
        }
        let password_hash = self
            .hasher
            .hash(password)
            .ok_or_else(|| LedgerError::Storage("no randomness for the salt".into()))?;
        let mut accounts = self.lock();
        // Otro hilo pudo registrar el mismo nombre mientras se calculaba el hash.
        if accounts.by_key.contains_key(&key) {
            return Err(LedgerError::NameTaken);
        }
        let record = Record {
            name: name.to_string(),
            password_hash,
            balance: None,
        };
        accounts.save_with(&[(&key, &record)])?;
        accounts.by_key.insert(key, record);
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
        Ok((record.name.clone(), record.balance))
    }

    /// Declara el saldo inicial de `name`, en dólares (la respuesta a "What is
    /// your balance?"). Solo una vez por cuenta: así el dinero entra al
    /// sistema una sola vez y después solo se mueve. Errores: `NoAccount`,
    /// `BalanceAlreadySet`, `Storage`.
    pub fn set_initial_balance(&self, name: &str, dollars: u64) -> Result<(), LedgerError> {
        let key = name_key(name);
        let mut accounts = self.lock();
        let record = accounts.by_key.get(&key).ok_or(LedgerError::NoAccount)?;
        if record.balance.is_some() {
            return Err(LedgerError::BalanceAlreadySet);
        }
        let updated = Record {
            balance: Some(dollars),
            ..record.clone()
        };
        accounts.save_with(&[(&key, &updated)])?;
        accounts.by_key.insert(key, updated);
        Ok(())
    }

    /// Saldo de `name` en dólares; `None` si no existe o no lo declaró.
    pub fn balance(&self, name: &str) -> Option<u64> {
        self.lock().by_key.get(&name_key(name))?.balance
    }

    /// Mueve `dollars` de `from` a `to` en un solo paso atómico: con el
    /// candado tomado se comprueba todo, se guarda en disco y recién entonces
    /// se cambian los dos saldos. Ningún otro hilo ve un estado intermedio.
    ///
    /// Errores, sin cambiar nada: `SelfTransfer`, `NoAccount` (origen o
    /// destino), `NoBalanceYet`, `InsufficientFunds`, `Overflow`, `Storage`.
    pub fn transfer(&self, from: &str, to: &str, dollars: u64) -> Result<Transfer, LedgerError> {
        let (from_key, to_key) = (name_key(from), name_key(to));
        if from_key == to_key {
            return Err(LedgerError::SelfTransfer);
        }
        let mut accounts = self.lock();
        let source = accounts
            .by_key
            .get(&from_key)
            .ok_or(LedgerError::NoAccount)?;
        let target = accounts.by_key.get(&to_key).ok_or(LedgerError::NoAccount)?;
        let available = source.balance.ok_or(LedgerError::NoBalanceYet)?;
        let held = target.balance.ok_or(LedgerError::NoBalanceYet)?;
        let from_balance = available
            .checked_sub(dollars)
            .ok_or(LedgerError::InsufficientFunds)?;
        let to_balance = held.checked_add(dollars).ok_or(LedgerError::Overflow)?;
        let new_source = Record {
            balance: Some(from_balance),
            ..source.clone()
        };
        let new_target = Record {
            balance: Some(to_balance),
            ..target.clone()
        };
        let to_name = new_target.name.clone();
        accounts.save_with(&[(&from_key, &new_source), (&to_key, &new_target)])?;
        accounts.by_key.insert(from_key, new_source);
        accounts.by_key.insert(to_key, new_target);
        Ok(Transfer {
            from_balance,
            to_name,
            to_balance,
        })
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

    /// Cantidad de cuentas.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    /// `true` si no hay ninguna cuenta.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Accounts {
    /// Guarda el libro tal como quedaría con estos cambios (clave → cuenta
    /// nueva o reemplazada), sin tocar todavía la memoria: si el disco falla,
    /// nada cambió.
    fn save_with(&self, changes: &[(&str, &Record)]) -> Result<(), LedgerError> {
        let unchanged = self
            .by_key
            .iter()
            .filter(|(key, _)| !changes.iter().any(|(changed, _)| changed == key))
            .map(|(_, record)| record);
        let changed = changes.iter().map(|(_, record)| *record);
        self.store
            .save(unchanged.chain(changed))
            .map_err(storage_error)
    }
}

fn storage_error(error: std::io::Error) -> LedgerError {
    LedgerError::Storage(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    fn ledger(dir: &Path) -> Ledger {
        Ledger::open(dir, HashCost::Minimal).expect("open")
    }

    fn account(ledger: &Ledger, name: &str, dollars: u64) {
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
    fn transfers_follow_the_rules_and_change_nothing_when_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger(dir.path());
        account(&ledger, "alice", 3000);
        account(&ledger, "bob", 500);
        ledger.register("carol", "pw").expect("register");
        assert_eq!(
            ledger.transfer("alice", "Bob", 100),
            Ok(Transfer {
                from_balance: 2900,
                to_name: "bob".into(),
                to_balance: 600
            })
        );
        let refused = [
            ("alice", "bob", 2901, LedgerError::InsufficientFunds),
            ("alice", "ALICE", 1, LedgerError::SelfTransfer),
            ("alice", "dave", 1, LedgerError::NoAccount),
            ("alice", "carol", 1, LedgerError::NoBalanceYet),
            ("carol", "alice", 1, LedgerError::NoBalanceYet),
        ];
        for (from, to, dollars, error) in refused {
            assert_eq!(ledger.transfer(from, to, dollars), Err(error));
        }
        account(&ledger, "rich", u64::MAX);
        assert_eq!(
            ledger.transfer("rich", "bob", u64::MAX),
            Err(LedgerError::Overflow)
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
            ledger.transfer("alice", "bob", 1000).expect("transfer");
        }
        let ledger = ledger(dir.path());
        assert_eq!(ledger.balance("alice"), Some(2000));
        assert_eq!(ledger.balance("bob"), Some(1500));
        assert_eq!(ledger.verify("bob", "pw"), Ok(("bob".into(), Some(1500))));
    }

    #[test]
    fn a_failed_save_changes_nothing_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger(dir.path());
        account(&ledger, "alice", 3000);
        account(&ledger, "bob", 500);
        // Un directorio donde iría el temporal hace fallar la escritura.
        std::fs::create_dir(dir.path().join("usuarios.json.tmp")).expect("mkdir");
        assert!(matches!(
            ledger.transfer("alice", "bob", 1),
            Err(LedgerError::Storage(_))
        ));
        assert!(matches!(
            ledger.register("carol", "pw"),
            Err(LedgerError::Storage(_))
        ));
        assert_eq!(ledger.balance("alice"), Some(3000));
        assert_eq!(ledger.balance("bob"), Some(500));
        assert_eq!(ledger.len(), 2);
    }

    /// El problema de la sección crítica del enunciado 004: muchos hilos
    /// transfiriendo a la vez entre las mismas cuentas. Sin el `Mutex`, dos
    /// hilos leerían el mismo saldo y uno de los dos cambios se perdería.
    #[test]
    fn concurrent_transfers_conserve_money() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Arc::new(ledger(dir.path()));
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
                        if ledger.transfer(from, to, (i % 400 + 1) as u64).is_ok() {
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
        let reopened = Ledger::open(dir.path(), HashCost::Minimal).expect("reopen");
        assert_eq!(reopened.total(), before);
    }
}
