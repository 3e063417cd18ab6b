//! La sección crítica del enunciado 004 puesta a prueba por la red: muchos
//! clientes transfiriendo a la vez, en sus propios hilos del servidor. El
//! dinero total no cambia, ningún saldo queda negativo (u64) y ninguna
//! actualización se pierde: el saldo final de cada uno es exactamente su
//! saldo inicial, menos lo que envió, más lo que recibió.

mod common;

use common::{Client, Server};
use std::thread;

const CLIENTS: usize = 10;
const TRANSFERS_EACH: usize = 120;
const INITIAL: u64 = 1_000;
/// El monto más alto de una transferencia. Con montos de 1 a 15, los 120
/// de cada cliente suman a lo sumo 988 dólares (la suma de cada uno, con
/// estas semillas), menos que su saldo inicial: ninguna puede rechazarse,
/// llegue en el orden que llegue. Así el resultado no depende de cómo el
/// sistema reparte los hilos: con montos de hasta 300, un cliente que
/// corría solo mientras los demás esperaban (una máquina cargada) gastaba
/// todo y se le rechazaba el resto (se vieron 310 aceptadas de 1200).
const MAX_AMOUNT: u64 = 15;

/// Resultado de un cliente: lo enviado y lo recibido, según lo confirmado.
struct Tally {
    sent: u64,
    received: u64,
    refused: usize,
}

/// Lee líneas hasta la respuesta a una transferencia, anotando en el camino
/// las transferencias recibidas y saltando los avisos de conexión.
fn next_answer(client: &mut Client, tally: &mut Tally) -> String {
    loop {
        let line = client.line();
        if let Some(rest) = line.strip_suffix(" dollars.")
            && let Some((_, rest)) = rest.split_once(" transferred ")
            && let Some((amount, _)) = rest.split_once(" dollars to you.")
        {
            tally.received += amount.parse::<u64>().expect("monto");
            continue;
        }
        if line.ends_with(" connected!") {
            continue;
        }
        return line;
    }
}

#[test]
fn concurrent_transfers_conserve_money_and_lose_no_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Cada cliente envía sus 120 `:t` tan rápido como recibe las
    // respuestas: aquí se prueba la sección crítica, no el control de
    // inundación.
    let mut server = Server::start(dir.path(), &["--max-lines-per-sec", "0"]);
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("c{i}")).collect();
    let clients: Vec<Client> = names.iter().map(|n| server.join(n, INITIAL)).collect();

    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let names = names.clone();
            thread::spawn(move || {
                let mut tally = Tally {
                    sent: 0,
                    received: 0,
                    refused: 0,
                };
                // Un generador congruencial: reproducible y sin dependencias.
                let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (i as u64);
                for _ in 0..TRANSFERS_EACH {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let to = (i + 1 + (seed >> 33) as usize % (CLIENTS - 1)) % CLIENTS;
                    let amount = 1 + (seed >> 20) % MAX_AMOUNT;
                    client.send(&format!(":t {} {amount}", names[to]));
                    let answer = next_answer(&mut client, &mut tally);
                    if answer.starts_with("[SERVER] Client: You transferred ") {
                        tally.sent += amount;
                    } else {
                        assert_eq!(
                            answer,
                            "[SERVER] Client: You don't have sufficient funds for the transaction."
                        );
                        tally.refused += 1;
                    }
                }
                (client, tally)
            })
        })
        .collect();
    let mut results: Vec<(Client, Tally)> = workers
        .into_iter()
        .map(|w| w.join().expect("hilo de prueba"))
        .collect();

    // Cuando todos terminaron, cada uno pide su saldo; las transferencias
    // recibidas que aún no había leído llegan antes que la respuesta.
    let mut total = 0u64;
    let mut accepted = 0;
    for (client, tally) in &mut results {
        client.send(":funds");
        let answer = next_answer(client, tally);
        let funds = common::dollars_in(&answer);
        assert_eq!(
            funds,
            INITIAL + tally.received - tally.sent,
            "{}: saldo distinto de lo confirmado",
            client.name
        );
        total += funds;
        accepted += TRANSFERS_EACH - tally.refused;
    }
    assert_eq!(total, INITIAL * CLIENTS as u64);
    // Ningún cliente envía más que su saldo inicial: un rechazo sería un
    // saldo mal llevado.
    assert_eq!(accepted, CLIENTS * TRANSFERS_EACH, "hubo rechazos");

    // Y lo mismo en disco tras un SIGKILL.
    server.kill();
    drop(results);
    let server = Server::start(dir.path(), &[]);
    let total_after: u64 = names.iter().map(|n| server.connect().login(n)).sum();
    assert_eq!(total_after, INITIAL * CLIENTS as u64);
}
