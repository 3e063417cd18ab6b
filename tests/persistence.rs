//! Persistencia: lo confirmado sobrevive a un SIGKILL, un archivo dañado
//! detiene el servidor sin tocarlo, un directorio de datos tiene un solo
//! servidor, el diario no sigue sin su foto, y las contraseñas nunca quedan
//! en claro. (El disco lleno de verdad está en `tests/full_disk.rs`.)

mod common;

use common::Server;
use std::fs;
use std::process::Command;

#[test]
fn accounts_and_balances_survive_a_kill_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let mut alice = server.join("alice", 3000);
    let bob = server.join("bob", 500);
    alice.expect("[SERVER] Client: bob connected!");
    alice.send(":t bob 1200");
    alice.expect("[SERVER] Client: You transferred 1200 dollars to bob. You have 1800 dollars.");
    // Confirmado = en disco: se mata el proceso sin darle tiempo a nada.
    server.kill();
    drop((alice, bob));

    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.connect().login("alice"), 1800);
    assert_eq!(server.connect().login("BOB"), 1700);
    let mut intruder = server.connect();
    intruder.send(":login alice pw-bob");
    intruder.expect("[SERVER] Client: Wrong name or password.");
    intruder.send(":register Alice otra");
    intruder.expect("[SERVER] Client: The name Alice is already taken.");
}

#[test]
fn the_data_files_hold_salted_hashes_never_passwords() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let _alice = server.join("alice", 1);
    let mut twin = server.connect();
    twin.send(":register twin pw-alice");
    twin.expect_welcome();
    // Los registros recientes están en el diario; los viejos, en la foto.
    let journal = fs::read_to_string(dir.path().join("diario.jsonl")).expect("read");
    let snapshot = fs::read_to_string(dir.path().join("usuarios.json")).expect("read");
    for text in [&journal, &snapshot] {
        assert!(!text.contains("pw-alice"), "{text}");
    }
    let hashes: Vec<String> = journal
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("json"))
        .filter(|entry| entry["op"] == "register")
        .map(|entry| entry["password_hash"].as_str().expect("hash").to_string())
        .collect();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.iter().all(|h| h.starts_with("$argon2id$")));
    assert_ne!(hashes[0], hashes[1], "misma clave, distinta sal");
}

#[test]
fn a_corrupt_data_file_stops_the_server_and_is_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("usuarios.json");
    let garbage = "{\"version\":1,\"users\":[{\"name\":\"alice\",";
    fs::write(&path, garbage).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_servidor"))
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("corrupt"), "{stderr}");
    assert!(output.stdout.is_empty(), "no debe escuchar");
    assert_eq!(fs::read_to_string(&path).expect("read"), garbage);
}

#[test]
fn a_missing_data_directory_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("a").join("b");
    let server = Server::start(&nested, &[]);
    let _carol = server.join("carol", 7);
    assert!(nested.join("usuarios.json").exists());
}

#[test]
fn both_binaries_explain_their_flags() {
    for binary in [
        env!("CARGO_BIN_EXE_servidor"),
        env!("CARGO_BIN_EXE_cliente"),
    ] {
        let help = Command::new(binary).arg("--help").output().expect("run");
        assert!(help.status.success());
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("--addr"), "{text}");
        let bad = Command::new(binary).arg("--bogus").output().expect("run");
        assert_eq!(bad.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("--bogus"));
    }
}

/// Transferencias enviadas de un tirón (en una sola escritura) se aplican
/// juntas y comparten un `fdatasync` (issue #5), pero cada una recibe su
/// respuesta, en el orden de las líneas, y una línea que no es `:t` en medio
/// sale después de las confirmaciones anteriores.
#[test]
fn pipelined_transfers_are_answered_in_order_and_survive_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let mut alice = server.join("alice", 100);
    let mut bob = server.join("bob", 0);
    alice.expect("[SERVER] Client: bob connected!");
    let mut script = String::new();
    for _ in 0..40 {
        script.push_str(":t bob 1\n");
    }
    script.push_str(":funds\n:t bob 1000\n:t bob 1\n");
    alice.send_bytes(script.as_bytes());
    for sent in 1..=40 {
        alice.expect(&format!(
            "[SERVER] Client: You transferred 1 dollars to bob. You have {} dollars.",
            100 - sent
        ));
    }
    alice.expect("[SERVER] Client: You have 60 dollars.");
    alice.expect("[SERVER] Client: You don't have sufficient funds for the transaction.");
    alice.expect("[SERVER] Client: You transferred 1 dollars to bob. You have 59 dollars.");
    for received in 1..=41 {
        bob.expect(&format!(
            "[SERVER] Client: alice transferred 1 dollars to you. You have {received} dollars."
        ));
    }
    server.kill();
    drop((alice, bob));
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.connect().login("alice"), 59);
    assert_eq!(server.connect().login("bob"), 41);
}

/// Con qué usuario corre el servidor en las pruebas de permisos: root se
/// salta los permisos de archivos, así que como root el servidor corre
/// como `nobody` (65534); si no, como quien corre las pruebas.
fn unprivileged() -> Option<u32> {
    // SAFETY: `geteuid` no toma argumentos y no falla.
    (unsafe { libc::geteuid() } == 0).then_some(65534)
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Un directorio de datos de solo lectura (una copia de seguridad
/// restaurada con los permisos mal) no se descubre con la primera
/// transferencia de un cliente: el servidor no arranca y dice por qué.
#[test]
fn an_unwritable_data_directory_stops_the_server_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let server = Server::start(dir.path(), &[]);
        server.join("alice", 10);
    }
    for file in ["usuarios.json", "diario.jsonl"] {
        chmod(&dir.path().join(file), 0o444);
    }
    chmod(dir.path(), 0o555);
    let refused = Server::launch("127.0.0.1:0", dir.path(), &[], unprivileged());
    let Err((code, stderr)) = refused else {
        panic!("el servidor arrancó sobre un directorio de solo lectura");
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with("servidor: cannot use the data file ")
            && stderr.contains("diario.jsonl: Permission denied"),
        "{stderr}"
    );
    // Con los permisos arreglados, todo sigue ahí.
    chmod(dir.path(), 0o755);
    chmod(&dir.path().join("diario.jsonl"), 0o644);
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.connect().login("alice"), 10);
}

/// Dos servidores sobre los mismos archivos se pisarían: el segundo (con
/// otro puerto, o con el mismo) se detiene enseguida, con una línea que
/// nombra el directorio, sin abrir sockets ni tocar el diario. El candado
/// muere con el proceso: tras un SIGKILL, el siguiente arranca.
#[test]
fn a_second_server_on_the_same_data_directory_stops_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = Server::start(dir.path(), &[]);
    let mut alice = first.join("alice", 1000);
    let journal = dir.path().join("diario.jsonl");
    let before = fs::read(&journal).expect("diario");
    let same_port = first.addr.to_string();
    for addr in ["127.0.0.1:0", same_port.as_str()] {
        let Err((code, stderr)) = Server::launch(addr, dir.path(), &[], None) else {
            panic!("un segundo servidor arrancó sobre {}", dir.path().display());
        };
        assert_eq!(code, Some(1), "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "servidor: the data directory {} is in use by another servidor \
                 (it holds {}); stop that one or pass another --data-dir",
                dir.path().display(),
                dir.path().join(".lock").display()
            )
        );
        assert_eq!(fs::read(&journal).expect("diario"), before, "{addr}");
    }
    // El primero sigue, y lo suyo es lo único que cuenta.
    alice.send(":funds");
    alice.expect("[SERVER] Client: You have 1000 dollars.");
    first.kill();
    drop(alice);
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.connect().login("alice"), 1000);
}

/// Tras una foto, el diario continúa desde ella (su cabecera lo dice). Si la
/// foto falta, el servidor no arranca de cero (borraría cuentas y dejaría
/// registrar sus nombres): se detiene y nombra los dos archivos.
#[test]
fn a_journal_whose_snapshot_is_missing_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("diario.jsonl");
    let lines = "{\"after_snapshot\":1000}\n\
                 {\"seq\":1001,\"op\":\"transfer\",\"from\":\"rich\",\"to\":\"bob\",\"dollars\":1}\n";
    fs::write(&journal, lines).expect("diario");
    let Err((code, stderr)) = Server::launch("127.0.0.1:0", dir.path(), &[], None) else {
        panic!("el servidor arrancó sin la foto que el diario necesita");
    };
    assert_eq!(code, Some(1), "{stderr}");
    let snapshot = dir.path().join("usuarios.json");
    for needed in [
        journal.display().to_string(),
        format!("{} is missing", snapshot.display()),
        "operation 1000".to_string(),
    ] {
        assert!(stderr.contains(&needed), "falta {needed:?} en {stderr}");
    }
    assert_eq!(fs::read_to_string(&journal).expect("diario"), lines);
    assert!(!snapshot.exists(), "no se escribió una foto vacía encima");
}

// Solo el programa completo: detiene el servidor con SIGTERM (el apagado ordenado es de `extra/shutdown.rs`); `curso/storage.rs` prueba lo mismo sin señales.
#[cfg(feature = "extra")]
/// El operador borra el diario de un directorio en uso: la foto dice qué
/// diario la continúa, y sin él el servidor no arranca (arrancar perdería
/// en silencio la cuenta registrada después de la foto).
#[test]
fn a_deleted_journal_stops_the_server_instead_of_losing_accounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    drop(server.join("alice", 70));
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(), Some(0));
    let journal = dir.path().join("diario.jsonl");
    let snapshot = dir.path().join("usuarios.json");
    let before = fs::read(&snapshot).expect("foto");
    fs::remove_file(&journal).expect("borrar el diario");

    let Err((code, stderr)) = Server::launch("127.0.0.1:0", dir.path(), &[], None) else {
        panic!("el servidor arrancó sin el diario que la foto nombra");
    };
    assert_eq!(code, Some(1), "{stderr}");
    for needed in [
        snapshot.display().to_string(),
        format!("{} is missing", journal.display()),
    ] {
        assert!(stderr.contains(&needed), "falta {needed:?} en {stderr}");
    }
    assert_eq!(
        fs::read(&snapshot).expect("foto"),
        before,
        "la foto no cambió"
    );
    assert!(!journal.exists(), "no se creó un diario vacío encima");
    // Un directorio sin ninguno de los dos archivos sigue siendo un comienzo
    // en limpio.
    fs::remove_file(&snapshot).expect("borrar la foto");
    let server = Server::start(dir.path(), &[]);
    drop(server.join("alice", 1));
}

/// Una última línea sin su `\n` (una muerte a mitad de escritura) nunca se
/// confirmó: se descarta, y la consola dice cuántos bytes y por qué.
#[test]
fn a_torn_last_journal_line_is_skipped_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let _alice = server.join("alice", 10);
    server.kill();
    let journal = dir.path().join("diario.jsonl");
    let torn = b"{\"seq\":99,\"op\":\"bala";
    let mut bytes = fs::read(&journal).expect("diario");
    bytes.extend_from_slice(torn);
    fs::write(&journal, &bytes).expect("diario");
    let server = Server::start(dir.path(), &[]);
    server.expect_console(&format!(
        "ignored the last {} bytes of {}: a journal line cut off before its end \
         (a crash while writing), never confirmed to anyone",
        torn.len(),
        journal.display()
    ));
    assert_eq!(server.connect().login("alice"), 10);
}
