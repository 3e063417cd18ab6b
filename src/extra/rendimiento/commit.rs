//! La durabilidad del programa completo: *group commit* con recibos. Es
//! su respuesta al punto de enchufe
//! [`crate::curso::ledger::Durability`] del libro.
//!
//! En el curso, cada operación hace su propio `fdatasync` con el candado de
//! las cuentas tomado: cien transferencias son cien esperas al disco, una
//! detrás de otra. Aquí, con el candado tomado, la línea de la operación
//! solo se agrega al diario pendiente y quien la pidió recibe un
//! [`Receipt`], un recibo con lugar para el resultado. Fuera del candado,
//! el hilo espera a que su recibo diga "en disco" antes de responder. El
//! primero que espera escribe y sincroniza todo lo pendiente de todos (uno
//! a la vez) y llena el recibo de cada operación que esa escritura cubrió;
//! los que llegan mientras tanto esperan la siguiente vuelta, así cien
//! transferencias comparten un `fdatasync`. Si el disco falla, se deshacen
//! en memoria todas las operaciones aún no sincronizadas (en orden
//! inverso) y cada recibo dice el error: una operación se confirma **si y
//! solo si su propia línea** está en disco. (Una marca "todo hasta N está
//! en disco" no basta: tras un fallo, una escritura buena posterior
//! movería la marca por encima de lo que se deshizo; así se colaban
//! confirmaciones falsas.)
//!
//! Candados: el de las cuentas (del libro) y el de lo pendiente
//! (`Pending`), siempre en ese orden cuando se toman los dos; el de
//! `Commit` nunca junto con otro. No sabe de reglas de dinero: deshacer es
//! [`Accounts::revert`].

#[cfg(test)]
use crate::curso::ledger::WrapJournal;
use crate::curso::ledger::{
    Accounts, COMPACT_JOURNAL_BYTES, Durability, LedgerError, Receipt, Undo,
};
use crate::curso::storage::{Entry, Store};
use crate::curso::sync::lock;
use crate::extra::stats;
use std::sync::{Condvar, Mutex, PoisonError};

/// El búfer de escritura del diario se reusa entre vueltas si no pasa de
/// este tamaño, en bytes.
const SPARE_KEEP_BYTES: usize = 64 * 1024;

/// El *group commit* sobre los archivos del libro.
pub struct GroupCommit {
    /// Lo aplicado en memoria que todavía no está en disco. Se toma con el
    /// candado de las cuentas ya tomado (al anotar, al deshacer, al leer un
    /// saldo en disco) o solo (al sacar los bytes de una vuelta): así el
    /// orden del diario es el orden en que se aplicaron.
    pending: Mutex<Pending>,
    /// Si alguien está escribiendo, y el aviso de cada vuelta terminada.
    commit: Mutex<Commit>,
    committed: Condvar,
    /// Los archivos; solo los toca quien está escribiendo (`Commit::syncing`).
    store: Mutex<Store>,
    /// Tamaño del diario, en bytes, que dispara una foto nueva.
    compact_at: u64,
}

/// Lo que protege el candado de lo pendiente.
struct Pending {
    /// Líneas del diario aún no escritas.
    bytes: Vec<u8>,
    /// El búfer de la vuelta de escritura anterior, vacío, para la próxima:
    /// los dos se turnan y no se pide memoria en cada `fdatasync`.
    spare: Vec<u8>,
    /// Cada operación aún no sincronizada, en orden: su número, cómo
    /// deshacerla y su recibo.
    in_flight: Vec<InFlight>,
}

/// Una operación aplicada en memoria cuya línea todavía no está en disco.
struct InFlight {
    seq: u64,
    undo: Undo,
    receipt: Receipt,
}

/// El estado de la escritura del diario.
struct Commit {
    /// Alguien está escribiendo y sincronizando.
    syncing: bool,
}

impl GroupCommit {
    /// Sobre los archivos de `store`; cuántas entradas deja en disco cada
    /// `fdatasync` lo cuenta `stats`.
    pub fn new(store: Store) -> GroupCommit {
        GroupCommit {
            pending: Mutex::new(Pending {
                bytes: Vec::new(),
                spare: Vec::new(),
                in_flight: Vec::new(),
            }),
            commit: Mutex::new(Commit { syncing: false }),
            committed: Condvar::new(),
            store: Mutex::new(store),
            compact_at: COMPACT_JOURNAL_BYTES,
        }
    }

    /// Lo mismo, listo para [`crate::curso::ledger::Ledger::open_locked`].
    pub fn boxed(store: Store) -> Box<dyn Durability> {
        Box::new(GroupCommit::new(store))
    }

    /// Con otro umbral para la foto, en bytes (las pruebas lo achican).
    pub fn compacting_at(self, bytes: u64) -> GroupCommit {
        GroupCommit {
            compact_at: bytes,
            ..self
        }
    }

    /// Una vuelta de escritura: todo lo pendiente al diario, `fdatasync`, los
    /// recibos de lo escrito, y si el diario creció mucho, una foto nueva.
    /// Solo la corre quien puso `syncing = true`.
    fn sync_pending(&self, accounts: &Mutex<Accounts>) {
        let (mut bytes, upto) = {
            let mut pending = lock(&self.pending);
            let spare = std::mem::take(&mut pending.spare);
            let upto = pending.in_flight.last().map_or(0, |op| op.seq);
            (std::mem::replace(&mut pending.bytes, spare), upto)
        };
        let written = lock(&self.store).append(&bytes);
        bytes.clear();
        // Un búfer que creció mucho (una ráfaga) no se guarda para siempre.
        if bytes.capacity() <= SPARE_KEEP_BYTES {
            lock(&self.pending).spare = bytes;
        }
        // Las cuentas primero, después lo pendiente: el mismo orden que
        // `record`, que se llama con las cuentas tomadas.
        let mut accounts = lock(accounts);
        let mut pending = lock(&self.pending);
        match written {
            Ok(()) => {
                // Exactamente las operaciones que iban en `bytes`: las de
                // número hasta `upto` (están en orden).
                let done = pending.in_flight.partition_point(|op| op.seq <= upto);
                stats::COUNTERS.journal_synced(done as u64);
                for op in pending.in_flight.drain(..done) {
                    op.receipt.settle(Ok(()));
                }
                // Sin nada en vuelo, la memoria es lo que está en disco, y
                // con las cuentas tomadas nadie agrega nada: la foto es
                // exacta. Si falla, el diario sigue siendo válido.
                if pending.in_flight.is_empty() {
                    let mut store = lock(&self.store);
                    if store.journal_bytes() > self.compact_at {
                        let _ = store.snapshot(accounts.records(), accounts.last_seq());
                    }
                }
            }
            Err(error) => {
                // Todo lo no sincronizado se deshace, también lo que llegó
                // después de tomar `bytes`: pudo depender de lo que falló.
                let error = error.to_string();
                let undone = std::mem::take(&mut pending.in_flight);
                for op in undone.into_iter().rev() {
                    accounts.revert(op.undo);
                    op.receipt.settle(Err(error.clone()));
                }
                pending.bytes.clear();
            }
        }
        drop(pending);
        drop(accounts);
        lock(&self.commit).syncing = false;
        self.committed.notify_all();
    }
}

impl Durability for GroupCommit {
    fn record(
        &self,
        _accounts: &mut Accounts,
        entry: Entry,
        undo: Undo,
    ) -> Result<Receipt, LedgerError> {
        let mut pending = lock(&self.pending);
        entry.write_line(&mut pending.bytes);
        let receipt = Receipt::new();
        pending.in_flight.push(InFlight {
            seq: entry.seq,
            undo,
            receipt: receipt.clone(),
        });
        Ok(receipt)
    }

    /// Si nadie está escribiendo, escribe este hilo todo lo pendiente.
    fn wait(&self, accounts: &Mutex<Accounts>, receipt: &Receipt) -> Result<(), LedgerError> {
        let mut commit = lock(&self.commit);
        loop {
            // Se mira con `commit` tomado: quien escribe llena los recibos
            // antes de tomarlo para bajar `syncing` y avisar, así que si
            // aquí no está lleno y `syncing` está alto, el aviso llegará.
            if let Some(outcome) = receipt.outcome() {
                return outcome;
            }
            if commit.syncing {
                // Envenenado o no, como `curso::sync::lock`.
                commit = self
                    .committed
                    .wait(commit)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            commit.syncing = true;
            drop(commit);
            self.sync_pending(accounts);
            commit = lock(&self.commit);
        }
    }

    /// Lo de memoria con las operaciones en vuelo que tocan la cuenta
    /// deshechas, de la última a la primera.
    fn durable_balance(&self, accounts: &Accounts, key: &str) -> Option<u64> {
        let pending = lock(&self.pending);
        balance_without(
            accounts,
            key,
            pending.in_flight.iter().rev().map(|op| &op.undo),
        )
    }

    /// Cuando se sabe el resultado de la última, se sabe el de todas: una
    /// vuelta buena cubre las anteriores y una mala las deshace.
    fn last_pending(&self) -> Option<Receipt> {
        lock(&self.pending)
            .in_flight
            .last()
            .map(|op| op.receipt.clone())
    }

    #[cfg(test)]
    fn wrap_journal(&self, wrap: WrapJournal<'_>) {
        lock(&self.store).wrap_journal(wrap);
    }
}

/// El saldo de la cuenta `key` como sería con las operaciones de `undone`
/// deshechas, en ese orden (de la última a la primera), sin cambiar nada:
/// lo mismo que haría [`Accounts::revert`] con cada una. Es el saldo "en
/// disco" cuando `undone` son las que todavía no llegaron.
pub fn balance_without<'a>(
    accounts: &Accounts,
    key: &str,
    undone: impl Iterator<Item = &'a Undo>,
) -> Option<u64> {
    let mut balance = accounts.balance(key);
    for undo in undone {
        match undo {
            Undo::Unregister(k) if k == key => return None,
            Undo::UnsetBalance(k) if k == key => balance = None,
            Undo::Transfer { from, to, dollars } => {
                if from == key {
                    balance = balance.map(|b| b.saturating_add(*dollars));
                }
                if to == key {
                    balance = balance.map(|b| b.saturating_sub(*dollars));
                }
            }
            _ => {}
        }
    }
    balance
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curso::ledger::Ledger;
    use crate::curso::ledger::tests::{
        a_failed_save_changes_nothing, a_flaky_disk_confirms_exactly_what_is_on_disk, account,
        compacts_into_a_snapshot, faulty, journaled_amounts, many_threads_conserve_money,
        open_with,
    };
    use crate::curso::storage::tests::Fault;
    use std::path::Path;

    /// Un libro con *group commit*.
    fn grouped(dir: &Path) -> Ledger {
        open_with(dir, Box::new(GroupCommit::boxed))
    }

    #[test]
    fn the_rules_of_any_durability_hold_with_group_commit() {
        a_failed_save_changes_nothing(&grouped);
        many_threads_conserve_money(&grouped);
        a_flaky_disk_confirms_exactly_what_is_on_disk(&grouped);
        compacts_into_a_snapshot(&|dir| {
            open_with(
                dir,
                Box::new(|store| Box::new(GroupCommit::new(store).compacting_at(1000))),
            )
        });
    }

    /// Una transferencia de bob a alice aplicada en memoria y todavía sin
    /// `fdatasync` (su recibo sin esperar, como un disco lento): el saldo
    /// que se le dice a alice no la incluye. Si el disco falla, nunca
    /// existió; si llega a disco, ahí sí.
    #[test]
    fn funds_are_what_is_on_disk_not_what_is_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = grouped(dir.path());
        account(&ledger, "alice", 100);
        account(&ledger, "bob", 500);
        faulty(&ledger, |write| match write {
            0 => Fault::Fail,
            _ => Fault::Pass,
        });
        let pending = ledger.transfer("bob", "alice", 50).expect("transfer");
        assert_eq!(ledger.balance("alice"), Some(150), "en memoria, ya está");
        assert_eq!(ledger.durable_balance("alice"), Some(100));
        assert_eq!(ledger.durable_balance("BOB"), Some(500));
        assert_eq!(ledger.verify("alice", "pw").map(|(_, b)| b), Ok(Some(100)));
        // El disco falla: la transferencia nunca existió, y el saldo dicho
        // fue el verdadero.
        assert!(ledger.wait_durable(&pending.receipt).is_err());
        assert_eq!(ledger.balance("alice"), Some(100));
        // Otra que sí llega a disco se ve.
        let done = ledger.transfer("bob", "alice", 30).expect("transfer");
        assert_eq!(ledger.durable_balance("alice"), Some(100));
        ledger.wait_durable(&done.receipt).expect("en disco");
        assert_eq!(ledger.durable_balance("alice"), Some(130));
        assert_eq!(ledger.durable_balance("bob"), Some(470));
    }

    /// La confirmación falsa, paso a paso: la vuelta que
    /// llevaba la transferencia de 7 falla y la deshace; después una vuelta
    /// buena escribe la de 8. Quien espera la de 7 debe recibir el error,
    /// aunque "lo escrito" ya pase de su número.
    #[test]
    fn a_failed_operation_stays_failed_after_a_later_good_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = grouped(dir.path());
        account(&ledger, "alice", 100);
        account(&ledger, "bob", 0);
        faulty(&ledger, |write| match write {
            0 => Fault::Fail,
            _ => Fault::Pass,
        });
        let seven = ledger.transfer("alice", "bob", 7).expect("7");
        // Otro hilo (aquí, `flush`) corre la vuelta que falla.
        assert!(ledger.flush().is_err());
        let eight = ledger.transfer("alice", "bob", 8).expect("8");
        assert_eq!(ledger.wait_durable(&eight.receipt), Ok(()));
        assert!(matches!(
            ledger.wait_durable(&seven.receipt),
            Err(LedgerError::Storage(_))
        ));
        assert_eq!(ledger.balance("alice"), Some(92));
        assert_eq!(journaled_amounts(dir.path()), [8]);
    }
}
