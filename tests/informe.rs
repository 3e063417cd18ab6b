//! El informe no puede quedar desactualizado (issue #4):
//! - cada extracto de código marcado con `<!-- extracto: RUTA -->` sigue
//!   apareciendo, letra por letra, en ese archivo;
//! - cada cadena del protocolo que cita entre comillas invertidas es una que
//!   el servidor envía (se interpreta con `Event::parse` y se vuelve a
//!   escribir igual);
//! - cada comando que le pide correr al lector existe: los binarios, sus
//!   opciones, los scripts y el benchmark.

use chat::protocolo::Event;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Los capítulos del informe, y el README, que también cita el protocolo.
fn chapters() -> Vec<(PathBuf, String)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(root().join("informe"))
        .expect("informe/")
        .map(|entry| entry.expect("entrada").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    paths.push(root().join("README.md"));
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("capítulo");
            (path, text)
        })
        .collect()
}

fn name(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Los bloques de código precedidos por `<!-- extracto: RUTA -->`.
fn excerpts(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(source) = line
            .trim()
            .strip_prefix("<!-- extracto:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "tras el marcador de {source} debe venir un bloque de código"
        );
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        found.push((source.trim().to_string(), body.join("\n")));
    }
    found
}

#[test]
fn every_excerpt_is_still_in_its_source_file() {
    let mut checked = 0;
    let mut stale = Vec::new();
    for (chapter, text) in chapters() {
        for (source, body) in excerpts(&text) {
            let code = fs::read_to_string(root().join(&source)).unwrap_or_else(|_| {
                panic!(
                    "{}: el extracto cita {source}, que no existe",
                    name(&chapter)
                )
            });
            if !code.contains(&body) {
                let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                stale.push(format!(
                    "{}: el extracto de {source} que empieza con «{}» ya no aparece en {source}",
                    name(&chapter),
                    first.trim()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        stale.is_empty(),
        "extractos desactualizados:\n{}",
        stale.join("\n")
    );
    assert!(
        checked >= 10,
        "solo {checked} extractos: ¿se perdió el marcador?"
    );
}

/// Las cadenas entre comillas invertidas que parecen líneas del servidor.
fn quoted_server_lines(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut parts = line.split('`');
        parts.next();
        while let Some(code) = parts.next() {
            let looks_like_server = code.starts_with("[SERVER] Client: ")
                || code.starts_with("[PRIVATE] ")
                || code.starts_with("Welcome to the best chat")
                || code.starts_with("You have been disconnected");
            if looks_like_server && code.len() > "[SERVER] Client: ".len() {
                found.push(code.to_string());
            }
            parts.next();
        }
    }
    found
}

#[test]
fn every_quoted_protocol_line_is_one_the_server_sends() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (chapter, text) in chapters() {
        for quoted in quoted_server_lines(&text) {
            // Las plantillas del README (`<name>`, `<TOKEN>`) no son líneas
            // concretas, salvo las del contrato que las llevan literalmente.
            let template = quoted.contains("<TOKEN>") || quoted.ends_with(' ');
            if template {
                continue;
            }
            match Event::parse(&quoted) {
                Some(event) if event.to_line().trim_end() == quoted => checked += 1,
                _ => wrong.push(format!("{}: «{quoted}»", name(&chapter))),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "el servidor no envía estas líneas:\n{}",
        wrong.join("\n")
    );
    assert!(
        checked >= 30,
        "solo {checked} líneas del protocolo revisadas"
    );
}

/// Los comandos de los bloques `sh` del informe.
fn commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if in_sh {
            let command = line.split(" #").next().unwrap_or("").trim();
            if !command.is_empty() {
                found.push(command.to_string());
            }
        }
    }
    found
}

fn help(binary: &str) -> String {
    let path = match binary {
        "servidor" => env!("CARGO_BIN_EXE_servidor"),
        "cliente" => env!("CARGO_BIN_EXE_cliente"),
        other => panic!("no hay binario {other}"),
    };
    let output = Command::new(path).arg("--help").output().expect("--help");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_command_the_informe_gives_exists() {
    let mut checked = 0;
    for (chapter, text) in chapters() {
        for command in commands(&text) {
            let words: Vec<&str> = command.split_whitespace().collect();
            match words.as_slice() {
                ["cargo", "run", "--bin", binary, rest @ ..] => {
                    let help = help(binary);
                    for flag in rest.iter().filter(|w| w.starts_with("--") && **w != "--") {
                        let flag = flag.split('=').next().unwrap_or(flag);
                        assert!(
                            help.contains(flag),
                            "{}: `{command}` usa {flag}, que {binary} no tiene",
                            name(&chapter)
                        );
                    }
                }
                ["cargo", "bench", "--bench", bench, ..] => {
                    assert!(
                        root().join("benches").join(format!("{bench}.rs")).exists(),
                        "{}: no existe el benchmark {bench}",
                        name(&chapter)
                    );
                }
                ["bash", script, ..] => {
                    assert!(
                        root().join(script).exists(),
                        "{}: no existe {script}",
                        name(&chapter)
                    );
                }
                _ => continue,
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "solo {checked} comandos revisados");
}
