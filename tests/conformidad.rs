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
