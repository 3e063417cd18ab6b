//! `:stats` (issue #17): con una carga conocida (usuarios por TCP y por
//! UDP, mensajes, transferencias, datagramas de más), cada campo está y
//! dice lo esperado.
//!
//! Solo el programa completo: `:stats` y sus contadores son de `extra/stats.rs`.
#![cfg(feature = "extra")]

mod common;

use chat::extra::notices::Notice;
use chat::protocolo::Event;
use common::{Client, Server};
use std::collections::HashMap;

/// Los campos de la respuesta a `:stats`: las cuatro líneas
/// `[SERVER] Client: Stats: clave=valor ...`, juntas.
fn stats(client: &mut Client) -> HashMap<String, f64> {
    client.send(":stats");
    let mut fields = HashMap::new();
    for _ in 0..4 {
        let line = client.line();
        let pairs = line
            .strip_prefix("[SERVER] Client: Stats: ")
            .unwrap_or_else(|| panic!("no es una línea de :stats: {line:?}"));
        for pair in pairs.split(' ') {
            let (key, value) = pair.split_once('=').expect("clave=valor");
            let value = value.parse().unwrap_or_else(|_| panic!("{pair}"));
            fields.insert(key.to_string(), value);
        }
    }
    fields
}

#[test]
fn stats_answers_every_field_with_the_counts_of_a_known_workload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--max-lines-per-sec", "2"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    let mut carol = server.join("carol", 1);
    bob.expect("[SERVER] Client: carol connected!");
    alice.expect("[SERVER] Client: carol connected!");
    let dave = server.join_udp("dave", 1);
    for client in [&mut alice, &mut bob, &mut carol] {
        client.expect("[SERVER] Client: dave connected!");
    }

    // Tres mensajes públicos de alice: cada uno, a tres destinatarios.
    for i in 0..3 {
        alice.send(&format!("mensaje {i}"));
        bob.expect(&format!("alice: mensaje {i}"));
        carol.expect(&format!("alice: mensaje {i}"));
    }
    // Una transferencia.
    bob.send(":t carol 1");
    bob.expect("[SERVER] Client: You transferred 1 dollars to carol. You have 0 dollars.");
    carol.expect("[SERVER] Client: bob transferred 1 dollars to you. You have 2 dollars.");
    // dave pide por UDP muchas más respuestas que las 2 líneas por segundo
    // (con ráfagas de 6) que permite el límite: las de más se descartan, y
    // la primera descartada recibe el aviso.
    for _ in 0..20 {
        dave.send(":funds");
    }
    let too_fast = Event::Error(Notice::TooFast(2).problem()).to_string();
    while dave.line() != too_fast {}
    let fields = stats(&mut carol);

    for key in [
        "threads",
        "users",
        "tcp_users",
        "udp_users",
        "lines_in_per_s",
        "deliveries_out_per_s",
        "largest_queue_bytes",
        "backlogged_clients",
        "queued_bytes",
        "overflow_disconnects",
        "udp_rate_dropped",
        "udp_lab_lost",
        "udp_lab_duplicated",
        "udp_lab_reordered",
        "udp_retransmitted",
        "udp_duplicates_discarded",
        "reliable_pairs",
        "reliable_bytes",
        "reliable_refused",
        "reliable_bogus_acks",
        "ledger_locks",
        "ledger_wait_total_us",
        "ledger_wait_max_us",
        "journal_syncs_per_s",
        "operations_per_sync",
    ] {
        assert!(fields.contains_key(key), "falta {key} en {fields:?}");
    }
    let field = |key: &str| fields[key];
    assert_eq!(
        (field("users"), field("tcp_users"), field("udp_users")),
        (4.0, 3.0, 1.0)
    );
    // Un hilo por cliente TCP, más el principal, el UDP y los de servicio.
    assert!(field("threads") >= 5.0, "{fields:?}");
    assert!(field("lines_in_per_s") > 0.0 && field("deliveries_out_per_s") > 0.0);
    assert!(field("udp_rate_dropped") >= 1.0, "{fields:?}");
    assert_eq!(field("overflow_disconnects"), 0.0);
    assert_eq!(
        field("udp_lab_lost"),
        0.0,
        "sin laboratorio no se pierde nada"
    );
    // Cuatro registros con su saldo y una transferencia pasaron por el
    // libro y por el diario.
    assert!(field("ledger_locks") >= 5.0, "{fields:?}");
    assert!(field("operations_per_sync") >= 1.0, "{fields:?}");
}

#[test]
fn the_console_prints_the_same_stats_every_n_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--stats-secs", "1"]);
    let line = server.expect_console_between("Stats: threads=", "operations_per_sync=0.00");
    assert!(line.contains(" users=0 "), "{line}");
}

/// `:stats` es para todos (la clase aprende de ella), así que solo lleva
/// cuentas: ningún nombre, dirección, puerto ni token de nadie. Cada campo
/// es `clave=número`, y ninguna cadena de los usuarios aparece.
#[test]
fn stats_shows_counts_and_never_a_name_an_address_or_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--stats-secs", "1"]);
    let local = server.addr;
    let mut asker = Client::connect(local);
    asker.register("zorzal", 5);
    let mut far = Client::connect_from(local, [127, 0, 0, 9].into());
    far.register("carpincho", 7);
    asker.expect("[SERVER] Client: carpincho connected!");
    let mut udp = common::UdpClient::new_from(local, [127, 0, 0, 8].into());
    udp.register("yacare", 9);
    asker.expect("[SERVER] Client: yacare connected!");
    let mut secrets = vec![
        "zorzal".to_string(),
        "carpincho".to_string(),
        "yacare".to_string(),
        "127.0.0".to_string(),
        asker.token.clone(),
        far.token.clone(),
        udp.token.clone(),
    ];
    for client in [&asker, &far] {
        let port = client.stream().local_addr().expect("addr").port();
        secrets.push(format!(":{port}"));
    }
    secrets.push(format!(":{}", udp.local_addr().port()));

    asker.send(":stats");
    let mut lines: Vec<String> = (0..4).map(|_| asker.line()).collect();
    let first = server.expect_console_between("Stats: ", "");
    lines.push(format!("Stats: {first}"));
    lines.extend(
        server
            .console_so_far()
            .into_iter()
            .filter(|l| l.starts_with("Stats: ")),
    );
    for line in &lines {
        let fields = line
            .strip_prefix("[SERVER] Client: Stats: ")
            .or_else(|| line.strip_prefix("Stats: "))
            .unwrap_or_else(|| panic!("no es de :stats: {line:?}"));
        for pair in fields.split(' ') {
            let (key, value) = pair.split_once('=').expect("clave=valor");
            assert!(
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{pair}"
            );
            assert!(value.parse::<f64>().is_ok(), "no es un número: {pair}");
        }
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "{secret:?} en {line:?}");
        }
    }
}

/// La ayuda del programa completo ofrece `:stats`; la del curso, que no lo
/// tiene, no (`tests/curso.rs`).
#[test]
fn the_help_offers_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut alice = server.join("alice", 1);
    alice.send(":help");
    let help = alice.line();
    assert!(
        help.contains(
            ":smile :angry :confused (emojis), :stats (server statistics), :help (this list)"
        ),
        "{help}"
    );
}
