//! El servidor muere con SIGKILL en momentos al azar (issue #6), en medio
//! de una tormenta de transferencias y registros, y vuelve a arrancar
//! sobre el mismo directorio de datos, varias veces. Tras cada reinicio:
//!
//! - el archivo de datos carga (el servidor arranca);
//! - la suma de los saldos es la de siempre;
//! - cada transferencia confirmada a un cliente está: el saldo de cada
//!   cuenta es el anterior más las confirmadas, más algunas de las que
//!   estaban en vuelo sin confirmar (esas pueden estar o no: nadie las
//!   vio confirmadas);
//! - cada registro confirmado (`Welcome...`) existe.
//!
//! Los clientes de la tormenta no usan las ayudas que fallan ante una
//! conexión cortada: que el servidor muera es lo esperado.

mod common;

use common::{Client, Lcg, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const ACCOUNTS: usize = 6;
const INITIAL: u64 = 1_000;
const ROUNDS: usize = 5;
/// Tope de transferencias por cliente y ronda (la muerte llega antes).
const MAX_TRANSFERS: usize = 5_000;
/// Tope de registros por ronda (la muerte suele llegar antes).
const MAX_REGISTRATIONS: usize = 2_000;

fn name(i: usize) -> String {
    format!("k{i}")
}

/// Una transferencia: de, a, dólares.
type Transfer = (usize, usize, u64);

/// Lo que vio un cliente de la tormenta antes de que el servidor muriera.
#[derive(Default)]
struct Seen {
    confirmed: Vec<Transfer>,
    /// La que envió y no llegó a ver confirmada ni rechazada.
    in_flight: Option<Transfer>,
}

/// Una conexión que tolera que el servidor muera: cada operación devuelve
/// `None` si la conexión se cortó.
struct Line {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Line {
    fn connect(addr: SocketAddr) -> Option<Line> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(common::PATIENCE)).ok()?;
        Some(Line {
            writer: stream.try_clone().ok()?,
            reader: BufReader::new(stream),
        })
    }

    fn send(&mut self, line: &str) -> Option<()> {
        self.writer.write_all(format!("{line}\n").as_bytes()).ok()
    }

    /// La próxima línea que no sea un aviso de otros (entradas, salidas,
    /// transferencias recibidas).
    fn answer(&mut self) -> Option<String> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches('\n');
            let notice = line.ends_with(" connected!")
                || line.ends_with(" disconnected!")
                || line.contains(" dollars to you. ");
            if !notice {
                return Some(line.to_string());
            }
        }
    }
}

/// Un cliente de la tormenta: entra como `k<me>` y transfiere al azar,
/// una a la vez, hasta que el servidor muere.
fn transfer_storm(addr: SocketAddr, me: usize, seed: u64) -> Seen {
    let mut seen = Seen::default();
    let mut rng = Lcg(seed);
    let Some(mut line) = Line::connect(addr) else {
        return seen;
    };
    let signed_in = (|| {
        line.answer()?; // cómo iniciar sesión
        line.send(&format!(":login {} pw-{}", name(me), name(me)))?;
        line.answer()?; // bienvenida
        line.answer()?; // token UDP
        line.answer() // saldo
    })();
    if signed_in.is_none() {
        return seen;
    }
    for _ in 0..MAX_TRANSFERS {
        let to = (me + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
        let dollars = 1 + rng.below(250) as u64;
        seen.in_flight = Some((me, to, dollars));
        if line.send(&format!(":t {} {dollars}", name(to))).is_none() {
            return seen;
        }
        let Some(answer) = line.answer() else {
            return seen;
        };
        seen.in_flight = None;
        if answer.starts_with("[SERVER] Client: You transferred ") {
            seen.confirmed.push((me, to, dollars));
        } else {
            assert_eq!(
                answer,
                "[SERVER] Client: You don't have sufficient funds for the transaction."
            );
        }
    }
    seen
}

/// Registra cuentas nuevas, una por conexión, hasta que el servidor muere
/// o se pide parar. Devuelve los nombres confirmados.
fn registration_storm(addr: SocketAddr, round: usize, stop: &AtomicBool) -> Vec<String> {
    let mut confirmed = Vec::new();
    for i in 0..MAX_REGISTRATIONS {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("r{round}x{i}");
        let welcomed = (|| {
            let mut line = Line::connect(addr)?;
            line.answer()?;
            line.send(&format!(":register {name} pw-{name}"))?;
            line.answer()
        })();
        match welcomed.as_deref() {
            Some("Welcome to the best chat in the universe!") => confirmed.push(name),
            Some(other) => panic!("registro de {name}: {other:?}"),
            None => break,
        }
    }
    confirmed
}

/// Los saldos de todas las cuentas, preguntados por la red.
fn balances(server: &Server) -> Vec<u64> {
    (0..ACCOUNTS)
        .map(|i| {
            let mut client = server.connect();
            let dollars = client.login(&name(i));
            client.send(":q");
            client.expect("You have been disconnected from the best chat in the universe!");
            dollars
        })
        .collect()
}

/// Aplica `transfers` a `balances` (sin comprobar fondos: ya los comprobó
/// el servidor).
fn apply(balances: &mut [i128], transfers: impl IntoIterator<Item = Transfer>) {
    for (from, to, dollars) in transfers {
        balances[from] -= i128::from(dollars);
        balances[to] += i128::from(dollars);
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_that_was_confirmed() {
    let mut rng = Lcg::from_clock();
    let seed = rng.0;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = [
        "--max-lines-per-sec",
        "0",
        "--max-signin-failures",
        "0",
        "--max-registrations-per-ip",
        "0",
    ];

    let mut server = Server::start(dir.path(), &flags);
    for i in 0..ACCOUNTS {
        let mut client = server.join(&name(i), INITIAL);
        client.send(":q");
        client.expect("You have been disconnected from the best chat in the universe!");
    }
    let mut expected: Vec<i128> = vec![i128::from(INITIAL); ACCOUNTS];
    let mut registered: Vec<String> = Vec::new();
    let mut total_confirmed = 0;

    for round in 0..ROUNDS {
        let addr = server.addr;
        let storm: Vec<_> = (0..ACCOUNTS)
            .map(|me| {
                let seed = rng.next();
                thread::spawn(move || transfer_storm(addr, me, seed))
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let registrations = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || registration_storm(addr, round, &stop))
        };
        // El momento al azar: entre 100 y 600 ms de tormenta.
        thread::sleep(Duration::from_millis(100 + rng.below(500) as u64));
        server.kill();
        stop.store(true, Ordering::Relaxed);

        let mut in_flight = Vec::new();
        for worker in storm {
            let seen = worker.join().expect("cliente de la tormenta");
            total_confirmed += seen.confirmed.len();
            apply(&mut expected, seen.confirmed);
            in_flight.extend(seen.in_flight);
        }
        let new_accounts = registrations.join().expect("registros");

        // Reinicio sobre los mismos datos: carga, y los saldos son lo
        // confirmado más algún subconjunto de lo que estaba en vuelo.
        server = Server::start(dir.path(), &flags);
        let now: Vec<i128> = balances(&server).into_iter().map(i128::from).collect();
        assert_eq!(
            now.iter().sum::<i128>(),
            i128::from(INITIAL) * ACCOUNTS as i128,
            "ronda {round}: el total cambió"
        );
        let explained = (0..1u32 << in_flight.len()).any(|subset| {
            let mut candidate = expected.clone();
            apply(
                &mut candidate,
                in_flight
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| subset & (1 << i) != 0)
                    .map(|(_, t)| *t),
            );
            candidate == now
        });
        assert!(
            explained,
            "ronda {round} (semilla {seed}): saldos {now:?}, confirmado {expected:?}, en vuelo {in_flight:?}"
        );
        eprintln!(
            "ronda {round}: {total_confirmed} transferencias y {} registros confirmados hasta ahora, {} en vuelo al morir",
            registered.len() + new_accounts.len(),
            in_flight.len()
        );
        expected = now;
        // Los registros de esta ronda (los anteriores ya se comprobaron
        // tras su propio reinicio).
        for name in &new_accounts {
            let mut client = Client::connect(server.addr);
            client.send(&format!(":login {name} pw-{name}"));
            client.expect_welcome();
            client.expect("[SERVER] Client: What is your balance?");
        }
        registered.extend(new_accounts);
    }
    // Que la prueba haya probado algo: hubo transferencias y registros
    // confirmados antes de las muertes.
    assert!(total_confirmed > ROUNDS * 10, "solo {total_confirmed}");
    assert!(registered.len() >= ROUNDS, "solo {}", registered.len());
}
