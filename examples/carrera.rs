//! El laboratorio de la carrera (informe, sección 3.6): una transferencia
//! escrita como se escribe la primera vez, con el candado tomado dos veces
//! (leer los saldos, soltarlo, escribirlos), contra la del proyecto, con
//! todo el "comprobar y cambiar" en una sola sección crítica.
//!
//! `cargo run --release --example carrera` corre las dos con los mismos
//! hilos y transferencias y dice cuánto dinero se creó o se destruyó. La
//! versión rota **compila**: no hay ninguna carrera de datos (cada acceso a
//! los saldos es con el candado), hay una condición de carrera, que Rust no
//! puede ver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;

/// Cuentas, hilos, transferencias por hilo y saldo inicial de cada cuenta.
const ACCOUNTS: usize = 4;
const THREADS: usize = 8;
const TRANSFERS: usize = 20_000;
const INITIAL: u64 = 1_000_000;

pub type Balances = Arc<Mutex<HashMap<usize, u64>>>;

/// La versión rota: lee con el candado, lo suelta, y escribe con otro.
/// Entre medio, otro hilo puede leer los mismos saldos viejos: una de las
/// dos escrituras pisa a la otra.
pub fn transfer_broken(balances: &Balances, from: usize, to: usize, dollars: u64) {
    let (from_balance, to_balance) = {
        let accounts = balances.lock().unwrap_or_else(|e| e.into_inner());
        (accounts[&from], accounts[&to])
    };
    if from_balance < dollars {
        return;
    }
    // Aquí el candado está suelto: otro hilo puede colarse.
    thread::yield_now();
    let mut accounts = balances.lock().unwrap_or_else(|e| e.into_inner());
    accounts.insert(from, from_balance - dollars);
    accounts.insert(to, to_balance + dollars);
}

/// La versión del proyecto (`Accounts::apply_transfer` en `src/curso/ledger.rs`
/// hace lo mismo): comprobar y cambiar con el candado tomado de principio a
/// fin.
pub fn transfer_fixed(balances: &Balances, from: usize, to: usize, dollars: u64) {
    let mut accounts = balances.lock().unwrap_or_else(|e| e.into_inner());
    let (from_balance, to_balance) = (accounts[&from], accounts[&to]);
    if from_balance < dollars {
        return;
    }
    accounts.insert(from, from_balance - dollars);
    accounts.insert(to, to_balance + dollars);
}

/// Corre `THREADS` hilos de `TRANSFERS` transferencias cada uno con
/// `transfer` y devuelve el dinero total antes y después, en dólares.
pub fn run(transfer: fn(&Balances, usize, usize, u64)) -> (u64, u64) {
    let balances: Balances = Arc::new(Mutex::new((0..ACCOUNTS).map(|a| (a, INITIAL)).collect()));
    let total = |b: &Balances| {
        b.lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum::<u64>()
    };
    let before = total(&balances);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let balances = Arc::clone(&balances);
            thread::spawn(move || {
                for i in 0..TRANSFERS {
                    let from = (t + i) % ACCOUNTS;
                    let to = (from + 1 + i % (ACCOUNTS - 1)) % ACCOUNTS;
                    transfer(&balances, from, to, 1 + (i % 7) as u64);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    (before, total(&balances))
}

fn report(name: &str, (before, after): (u64, u64)) {
    let change = i128::from(after) - i128::from(before);
    let verdict = match change {
        0 => "exacto".to_string(),
        c if c > 0 => format!("se crearon {c} dólares"),
        c => format!("se destruyeron {} dólares", -c),
    };
    println!("{name}: antes {before}, después {after}: {verdict}");
}

fn main() {
    println!(
        "{THREADS} hilos × {TRANSFERS} transferencias entre {ACCOUNTS} cuentas de {INITIAL} dólares"
    );
    report("candado tomado dos veces", run(transfer_broken));
    report("una sola sección crítica", run(transfer_fixed));
}
