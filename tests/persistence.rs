//! Persistencia: lo confirmado sobrevive a un SIGKILL, un archivo dañado
//! detiene el servidor sin tocarlo, y las contraseñas nunca quedan en claro.

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

/// Si el disco no acepta el cambio, el cliente recibe un error claro y
/// ningún saldo cambia en memoria (lo que no está en disco no se confirma).
#[test]
fn a_failed_write_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let mut alice = server.join("alice", 3000);
    let mut bob = server.join("bob", 500);
    alice.expect("[SERVER] Client: bob connected!");
    // El diario reemplazado por un enlace a /dev/full: cada escritura falla
    // como con el disco lleno (funciona también como root, a diferencia de
    // quitar permisos).
    let journal = dir.path().join("diario.jsonl");
    let aside = dir.path().join("aparte");
    fs::rename(&journal, &aside).expect("rename");
    std::os::unix::fs::symlink("/dev/full", &journal).expect("symlink");
    let refused = "[SERVER] Client: The server could not save the change, so nothing was changed. Try again later.";
    alice.send(":t bob 100");
    alice.expect(refused);
    server.expect_console(
        "storage error, nothing was changed: No space left on device (os error 28)",
    );
    assert_eq!(alice.funds(), 3000);
    assert_eq!(bob.funds(), 500);
    let mut carol = server.connect();
    carol.send(":register carol pw-carol");
    carol.expect(refused);

    fs::remove_file(&journal).expect("rm");
    fs::rename(&aside, &journal).expect("rename");
    alice.send(":t bob 100");
    alice.expect("[SERVER] Client: You transferred 100 dollars to bob. You have 2900 dollars.");
    carol.register("carol", 1);
    // Lo confirmado antes y después del fallo sobrevive a un reinicio.
    server.kill();
    drop((alice, bob, carol));
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.connect().login("alice"), 2900);
    assert_eq!(server.connect().login("carol"), 1);
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

/// Si el disco falla con varias transferencias aplicadas esperando el mismo
/// `fdatasync`, ninguna se confirma y todas se deshacen.
#[test]
fn pipelined_transfers_on_a_full_disk_are_all_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let mut alice = server.join("alice", 100);
    let mut bob = server.join("bob", 0);
    alice.expect("[SERVER] Client: bob connected!");
    let journal = dir.path().join("diario.jsonl");
    fs::rename(&journal, dir.path().join("aparte")).expect("rename");
    std::os::unix::fs::symlink("/dev/full", &journal).expect("symlink");
    alice.send_bytes(b":t bob 10\n:t bob 20\n:t bob 30\n");
    let refused = "[SERVER] Client: The server could not save the change, so nothing was changed. Try again later.";
    for _ in 0..3 {
        alice.expect(refused);
    }
    assert_eq!(alice.funds(), 100);
    assert_eq!(bob.funds(), 0);
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

/// Si el diario deja de poder escribirse con el servidor en marcha (aquí lo
/// reemplaza un archivo de solo lectura), cada operación se rechaza con un
/// error claro al cliente y a la consola, y ningún saldo cambia.
#[test]
fn an_unwritable_journal_refuses_operations_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o777);
    let server = Server::launch("127.0.0.1:0", dir.path(), &[], unprivileged())
        .unwrap_or_else(|(code, stderr)| panic!("no arrancó ({code:?}): {stderr}"));
    let mut alice = server.join("alice", 3000);
    let mut bob = server.join("bob", 500);
    alice.expect("[SERVER] Client: bob connected!");

    let journal = dir.path().join("diario.jsonl");
    let aside = dir.path().join("aparte");
    fs::rename(&journal, &aside).expect("rename");
    fs::write(&journal, b"").expect("diario nuevo");
    chmod(&journal, 0o444);
    let refused = "[SERVER] Client: The server could not save the change, so nothing was changed. Try again later.";
    alice.send(":t bob 100");
    alice.expect(refused);
    server.expect_console("storage error, nothing was changed: Permission denied (os error 13)");
    let mut carol = server.connect();
    carol.send(":register carol pw-carol");
    carol.expect(refused);
    assert_eq!(alice.funds(), 3000);
    assert_eq!(bob.funds(), 500);

    fs::remove_file(&journal).expect("rm");
    fs::rename(&aside, &journal).expect("rename");
    alice.send(":t bob 100");
    alice.expect("[SERVER] Client: You transferred 100 dollars to bob. You have 2900 dollars.");
}
