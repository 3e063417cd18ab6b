//! La suite de conformidad contra un servidor: el de este proyecto por
//! omisión, o el que digan `SERVER_CMD` (un comando que la suite arranca,
//! con `--addr 127.0.0.1:0 --data-dir DIR` agregados) o `SERVER_ADDR` (un
//! servidor que ya anda). Una prueba por requisito, con el número del
//! enunciado en el nombre: `cargo test --test conformidad -- --skip r002`
//! salta el eco. Lo que verifica cada una está en
//! `src/extra/conformance/checks.rs`; el contrato de arranque, en el README
//! ("Calificar el servidor de otro").
//!
//! Solo el programa completo: la suite es una herramienta del docente, en
//! `extra/conformance/`.
#![cfg(feature = "extra")]

use chat::extra::conformance::{self, DEFAULT_WAIT, Outcome, Target};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;

/// El servidor calificado: el de las variables de entorno, o el de este
/// proyecto (con el hash barato: la suite crea decenas de cuentas).
fn target() -> Target {
    match conformance::target_from_env() {
        Some(Ok(target)) => target,
        Some(Err(why)) => panic!("{why}"),
        None => Target::Command(format!(
            "'{}' --hash-cost minimal",
            env!("CARGO_BIN_EXE_servidor")
        )),
    }
}

/// El servidor de referencia en Python (`tests/fixtures/`), limpio o con
/// el defecto `bug`.
fn reference(bug: Option<&str>) -> Target {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/servidor_referencia.py"
    );
    let bug = bug.map(|b| format!(" --bug {b}")).unwrap_or_default();
    Target::Command(format!("'{}' -S '{script}'{bug}", python()))
}

/// El intérprete de `python3`, con su ruta verdadera: la matriz arranca
/// más de 250 servidores, y un `python3` de pyenv (un guion que busca la
/// versión) tarda 145 ms en arrancar contra 40 ms del intérprete mismo; con
/// `-S` (sin `site`: el servidor solo usa la biblioteca estándar), 9 ms.
/// Falla con una explicación si no hay `python3` (`.ci/run` lo instala).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let found = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output();
        match found {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            }
            _ => panic!(
                "falta python3 para el servidor de referencia: `.ci/run` lo instala (apt-get install python3)"
            ),
        }
    })
}

/// Los requisitos que fallan contra `target`, por su número, con el
/// detalle de cada falla.
fn failing(target: &Target) -> BTreeMap<&'static str, String> {
    conformance::check_all(target, DEFAULT_WAIT, &[])
        .into_iter()
        .filter_map(|(requirement, outcome)| match outcome {
            Outcome::Fail(why) => Some((requirement.id, why)),
            _ => None,
        })
        .collect()
}

/// Cada defecto del servidor de referencia (`--bug`) y los requisitos que
/// rompe: la suite debe hacer fallar esos y ningún otro.
const BUGS: &[(&str, &[&str])] = &[
    ("no-welcome", &["003.4", "004.4"]),
    ("no-console", &["003.3"]),
    ("echo-self", &["004.3"]),
    ("notice-to-joiner", &["004.4"]),
    ("quit-keeps-socket", &["003.5", "004.7"]),
    ("negative-balance", &["004.6"]),
    ("private-to-all", &["004.7"]),
    ("duplicate-login", &["003.2", "004.2"]),
    ("lost-update", &["004.8"]),
    ("token-from-anyone", &["000"]),
    ("no-udp-relay", &["001.1-2"]),
    ("blocking-signin", &["003.6"]),
    ("echo-latin1", &["002"]),
    ("users-missing-self", &["004.7", "001.1-2"]),
];

/// El servidor de referencia, sin defectos, cumple todo: la suite no le
/// pide nada que el contrato no diga.
#[test]
fn the_reference_server_passes_every_requirement() {
    let outcomes = conformance::check_all(&reference(None), DEFAULT_WAIT, &[]);
    let report = conformance::report(&outcomes);
    assert!(
        outcomes
            .iter()
            .all(|(_, outcome)| *outcome == Outcome::Pass),
        "{report}"
    );
}

/// Con cada defecto inyectado, la suite falla exactamente los requisitos
/// que ese defecto rompe. Imprime la matriz (con `--nocapture`).
#[test]
fn each_injected_bug_fails_exactly_the_requirements_it_breaks() {
    // De a cinco servidores de referencia a la vez: cada uno arranca un
    // `python3` por requisito, y un requisito que falla espera su plazo.
    let mut found = Vec::new();
    for chunk in BUGS.chunks(5) {
        thread::scope(|scope| {
            let running: Vec<_> = chunk
                .iter()
                .map(|(bug, expected)| {
                    (
                        *bug,
                        *expected,
                        scope.spawn(|| failing(&reference(Some(bug)))),
                    )
                })
                .collect();
            for (bug, expected, handle) in running {
                let failed = handle.join().expect("la suite no entra en pánico");
                found.push((bug, expected, failed));
            }
        });
    }
    let ids: Vec<&str> = conformance::REQUIREMENTS.iter().map(|r| r.id).collect();
    let mut matrix = format!(
        "| defecto | {} |\n|---|{}\n",
        ids.join(" | "),
        "---|".repeat(ids.len())
    );
    let mut wrong = Vec::new();
    for (bug, expected, failed) in &found {
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        let cells: Vec<&str> = ids
            .iter()
            .map(
                |id| match (expected.contains(id), failed.contains_key(id)) {
                    (true, true) => "falla",
                    (false, false) => "",
                    (true, false) => "**pasa (debía fallar)**",
                    (false, true) => "**falla (no debía)**",
                },
            )
            .collect();
        matrix.push_str(&format!("| `{bug}` | {} |\n", cells.join(" | ")));
        let ids: BTreeSet<&str> = failed.keys().copied().collect();
        if expected != ids {
            let unexpected: Vec<String> = failed
                .iter()
                .filter(|(id, _)| !expected.contains(*id))
                .map(|(id, why)| format!("  {id}: {why}"))
                .collect();
            wrong.push(format!(
                "{bug}: se esperaba que fallen {expected:?} y fallaron {ids:?}\n{}",
                unexpected.join("\n")
            ));
        }
    }
    println!("{matrix}");
    assert!(wrong.is_empty(), "{}\n{matrix}", wrong.join("\n"));
}

/// `calificar`, como lo usa un docente: la tabla en Markdown por la salida
/// estándar, y el código de salida 1 si algún requisito falla, 0 si no.
#[test]
fn calificar_prints_the_table_and_its_exit_code_says_whether_something_failed() {
    let run = |bug: &str| {
        let Target::Command(command) = reference(Some(bug)) else {
            unreachable!("la referencia se arranca con un comando");
        };
        Command::new(env!("CARGO_BIN_EXE_calificar"))
            .args(["--server-cmd", &command])
            .args([
                "--skip", "000", "--skip", "001", "--skip", "002", "--skip", "003",
            ])
            .output()
            .expect("calificar")
    };
    let broken = run("negative-balance");
    let table = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{table}");
    let row = table
        .lines()
        .find(|line| line.starts_with("| 004.6 |"))
        .unwrap_or_else(|| panic!("sin la fila 004.6:\n{table}"));
    assert!(
        row.contains("**falla**") && row.contains("You have -50 dollars."),
        "{row}"
    );
    assert!(table.contains("7 de 8 requisitos sin fallas."), "{table}");

    // Un defecto del eco, que aquí se salta: lo que se califica está bien.
    let clean = run("echo-latin1");
    let table = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{table}");
    assert!(table.contains("8 de 8 requisitos sin fallas."), "{table}");
}

/// La tabla de defectos del anexo 9 del informe dice lo mismo que
/// [`BUGS`]: cada defecto, con los requisitos que rompe.
#[test]
fn the_annex_lists_each_bug_with_what_it_breaks() {
    let annex = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/informe/09-anexo-calificar.md"
    ))
    .expect("el anexo 9");
    for (bug, expected) in BUGS {
        let row = annex
            .lines()
            .find(|line| line.starts_with(&format!("| `{bug}`:")))
            .unwrap_or_else(|| panic!("el anexo 9 no tiene la fila de {bug}"));
        let breaks = row.trim_end_matches('|').rsplit('|').next().unwrap_or("");
        assert_eq!(breaks.trim(), expected.join(", "), "la fila de {bug}");
    }
}

/// Califica el requisito `id` y falla con su detalle si no lo cumple.
fn requirement(id: &str) {
    let requirement = conformance::requirement(id).expect("un requisito de la tabla");
    match conformance::check(requirement, &target(), DEFAULT_WAIT) {
        Outcome::Pass => {}
        Outcome::PassWithoutConsole => eprintln!("{id}: la consola no se miró"),
        Outcome::Unchecked(why) => eprintln!("{id}: sin calificar: {why}"),
        Outcome::Fail(why) => panic!("{id} ({}): {why}", requirement.title),
    }
}

/// Cada requisito de la tabla tiene su prueba aquí, con el nombre que la
/// tabla le da (el que se usa con `--skip`).
#[test]
fn every_requirement_has_its_test() {
    let source = include_str!("conformidad.rs");
    for requirement in conformance::REQUIREMENTS {
        assert!(
            source.contains(&format!("fn {}()", requirement.test)),
            "falta la prueba {} ({})",
            requirement.test,
            requirement.id
        );
    }
}

#[test]
fn r003_1_six_clients() {
    requirement("003.1");
}

#[test]
fn r003_2_unique_names() {
    requirement("003.2");
}

#[test]
fn r003_3_console_messages() {
    requirement("003.3");
}

#[test]
fn r003_4_connect_notice() {
    requirement("003.4");
}

#[test]
fn r003_5_quit() {
    requirement("003.5");
}

#[test]
fn r003_6_threads() {
    requirement("003.6");
}

#[test]
fn r004_1_six_clients() {
    requirement("004.1");
}

#[test]
fn r004_2_unique_names() {
    requirement("004.2");
}

#[test]
fn r004_3_messages() {
    requirement("004.3");
}

#[test]
fn r004_4_notices() {
    requirement("004.4");
}

#[test]
fn r004_5_balance() {
    requirement("004.5");
}

#[test]
fn r004_6_ledger() {
    requirement("004.6");
}

#[test]
fn r004_7_commands() {
    requirement("004.7");
}

#[test]
fn r004_8_critical_sections() {
    requirement("004.8");
}

#[test]
fn r000_udp_tokens() {
    requirement("000");
}

#[test]
fn r001_1_tcp_and_udp() {
    requirement("001.1-2");
}

#[test]
fn r001_4_point_to_point() {
    requirement("001.4");
}

#[test]
fn r002_echo() {
    requirement("002");
}
