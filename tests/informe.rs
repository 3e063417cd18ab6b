//! El informe no puede quedar desactualizado (issue #4):
//! - cada extracto de código marcado con `<!-- extracto: RUTA -->` sigue
//!   apareciendo, letra por letra, en ese archivo;
//! - cada cadena del protocolo que cita entre comillas invertidas es una que
//!   el servidor envía (se interpreta con `Event::parse` y se vuelve a
//!   escribir igual);
//! - cada comando que le pide correr al lector existe: los binarios, sus
//!   opciones, los scripts y el benchmark;
//! - cada nombre de código que la prosa cita entre comillas invertidas
//!   (`Chat::leave`, `MAX_RETRIES`, el nombre de una prueba) existe en el
//!   código (issue #18: encontró en el README una prueba que ya no existía);
//! - cada constante cuyo valor cita la prosa vale eso en el código;
//! - el mapa de módulos de la sección 3.1 dice la verdad: entre los módulos
//!   de `src/` no hay círculos, y el cliente no importa nada del servidor.
//!
//! Los diagramas Mermaid los comprueba `.ci/mermaid.mjs`, con el parser de
//! Mermaid, desde `.ci/run`.

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

/// Todas las palabras del código (sin los comentarios): los nombres que el
/// programa, sus pruebas y sus manifiestos definen o usan.
fn code_words() -> std::collections::HashSet<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "benches",
        "examples",
        "cliente-gui/src",
        "cliente-gui/tests",
    ] {
        walk(&root().join(dir), &mut files);
    }
    // Los manifiestos: los crates y sus *features* (`egui_kittest`,
    // `wrap_help`) también son nombres que la prosa cita.
    files.push(root().join("Cargo.toml"));
    files.push(root().join("cliente-gui/Cargo.toml"));
    let mut words = std::collections::HashSet::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("fuente");
        let comment = if file.extension().is_some_and(|e| e == "toml") {
            "#"
        } else {
            "//"
        };
        for line in text.lines() {
            let code = line.split(comment).next().unwrap_or("");
            for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if !word.is_empty() {
                    words.insert(word.to_string());
                }
            }
        }
    }
    words
}

/// Los nombres de código que la prosa cita entre comillas invertidas
/// (fuera de los bloques de código): `Chat::leave`, `MAX_RETRIES`,
/// `send_line`, `RttEstimator`. Una palabra suelta en minúsculas (`read`,
/// `accept`) no cuenta: puede ser una llamada al sistema.
fn named_identifiers(text: &str) -> Vec<String> {
    let is_ident = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut found = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let Some(code) = parts.next() {
            parts.next();
            let code = code.strip_suffix("()").unwrap_or(code);
            let segments: Vec<&str> = code.split("::").collect();
            if !segments.iter().all(|s| is_ident(s)) {
                continue;
            }
            let codey = segments.len() > 1
                || code.contains('_')
                || code.chars().skip(1).any(|c| c.is_ascii_uppercase());
            if codey {
                found.push(code.to_string());
            }
        }
    }
    found
}

/// Nombres que la prosa cita y que no son del código: del sistema, del
/// kernel, de TCP, de SQL, caracteres de control o variables de entorno.
const NOT_OURS: &[&str] = &[
    "AF_INET",
    "AF_INET6",
    "EAGAIN",
    "EMFILE",
    "SO_RCVTIMEO",
    "SO_SNDTIMEO",
    "tcp_abort_on_overflow",
    "ESC",
    "NUL",
    "UPDATE",
    "SOCK_STREAM",
    "SOCK_DGRAM",
    "SO_REUSEADDR",
    "SO_KEEPALIVE",
    "TCP_NODELAY",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_KEEPCNT",
    "TIME_WAIT",
    "CLOSE_WAIT",
    "FIN_WAIT",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "CLOSING",
    "TCP_DELACK_MIN",
    "TCP_DELACK_MAX",
    "TCP_RTO_MIN",
    "SOCK_RAW",
    "SO_SNDBUF",
    "ThreadRng",
    "SYN_SENT",
    "SYN_RECEIVED",
    "CAP_NET_RAW",
    "NO_COLOR",
    "SOAK_CLIENTS",
    "SOAK_SECS",
];

#[test]
fn every_identifier_the_prose_names_exists_in_the_code() {
    let words = code_words();
    let mut checked = 0;
    let mut missing = Vec::new();
    for (chapter, text) in chapters() {
        for ident in named_identifiers(&text) {
            if NOT_OURS.contains(&ident.as_str()) {
                continue;
            }
            checked += 1;
            if !ident.split("::").all(|segment| words.contains(segment)) {
                missing.push(format!("{}: `{ident}`", name(&chapter)));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "la prosa nombra cosas que no están en el código:\n{}",
        missing.join("\n")
    );
    assert!(checked >= 50, "solo {checked} nombres revisados");
}

/// Las constantes cuyo valor cita la prosa: dónde se definen, cómo se
/// escriben en el código y cómo las dice el informe. Si alguien cambia el
/// valor en el código, esta prueba le muestra la frase que quedó vieja.
const QUOTED_CONSTANTS: &[(&str, &str, &str, &str)] = &[
    // (archivo, nombre, valor en el código, frase en la prosa)
    (
        "src/fiable.rs",
        "MIN_RTO",
        "Duration::from_millis(200)",
        "al menos 200 ms",
    ),
    ("src/fiable.rs", "WINDOW", "32", "ventana de 32"),
    ("src/fiable.rs", "MAX_RETRIES", "15", "tras 15 seguidos"),
    (
        "src/flusher.rs",
        "STUCK_AFTER",
        "Duration::from_secs(1)",
        "tras 1 s sin que su socket acepte nada",
    ),
    ("src/protocolo.rs", "MAX_LINE_BYTES", "4096", "4096 bytes"),
    (
        "src/echo.rs",
        "MAX_ECHO_LINE_BYTES",
        "4096",
        "una línea de más de 4096 bytes",
    ),
    ("src/udp.rs", "RECV_BUFFER", "65_536", "64 KiB"),
    (
        "src/cliente/core.rs",
        "UNPROVEN_DATAGRAM_BYTES",
        "64",
        "hasta 64 bytes",
    ),
    ("src/udp.rs", "AMPLIFICATION", "3", "triple"),
    ("src/outbox.rs", "CHUNK", "64 * 1024", "trozos de 64 KiB"),
    (
        "src/outbox.rs",
        "HAND_OFF_FANOUT",
        "128",
        "Con 128, las entregas",
    ),
    (
        "src/cookie.rs",
        "WINDOW",
        "Duration::from_secs(60)",
        "lo que queda de su ventana de 60 s y la ventana siguiente",
    ),
    (
        "src/fiable.rs",
        "MIN_RTO",
        "Duration::from_millis(200)",
        "(`MIN_RTO`, 200 ms)",
    ),
    ("src/fiable.rs", "MAX_RETRIES", "15", "tras 15 seguidos"),
    (
        "src/send_buffer.rs",
        "DEFAULT_BYTES",
        "64 * 1024",
        "64 KiB pedidos",
    ),
];

/// Los hilos con nombre que arranca el servidor del chat (`.name("...")`
/// en `src/`, sin los clientes ni el eco, que 3.1 no dibuja), por la
/// primera palabra del nombre: `hasher 0` es `hasher`.
fn server_thread_names() -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entrada").path();
            if path.ends_with("cliente") || path.ends_with("bin") || path.ends_with("echo.rs") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let code = fs::read_to_string(&path).expect("fuente");
            let code = code.split("#[cfg(test)]").next().unwrap_or("");
            for piece in code.split(".name(").skip(1) {
                let quoted = piece.split('"').nth(1).unwrap_or("");
                let name = quoted.split(" {").next().unwrap_or(quoted);
                if !name.is_empty() {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names
}

/// La lista de hilos de la sección 3.1 nombra cada hilo que el servidor
/// arranca: uno nuevo sin su línea en el informe hace fallar esta prueba.
#[test]
fn the_thread_list_names_every_thread_the_server_starts() {
    let text = fs::read_to_string(root().join("informe/03-servidor.md")).expect("informe");
    let start = text
        .find("Hay estas clases de hilos:")
        .expect("la lista de hilos");
    let list: String = text[start..]
        .lines()
        .skip(1)
        .take_while(|line| !line.starts_with("El estado compartido"))
        .collect::<Vec<_>>()
        .join("\n");
    let names = server_thread_names();
    assert!(names.len() >= 6, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !list.contains(&format!("- **{name}**")))
        .collect();
    assert!(missing.is_empty(), "hilos sin su línea en 3.1: {missing:?}");
}

#[test]
fn every_constant_the_prose_quotes_has_that_value_in_the_code() {
    let prose: String = chapters().into_iter().map(|(_, text)| text).collect();
    // Las frases pueden partirse en dos renglones.
    let prose = prose.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut wrong = Vec::new();
    for (file, constant, value, phrase) in QUOTED_CONSTANTS {
        let code = fs::read_to_string(root().join(file)).expect("fuente");
        let defined = code.lines().any(|line| {
            line.contains(&format!("const {constant}:")) && line.contains(&format!("= {value};"))
        });
        if !defined {
            wrong.push(format!(
                "{file}: `{constant}` ya no vale {value}; el informe dice «{phrase}»"
            ));
        }
        if !prose.contains(phrase) {
            wrong.push(format!(
                "el informe ya no dice «{phrase}» (de `{constant}`): ¿se actualizó la tabla de esta prueba?"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Los módulos de primer nivel de `src/` (un archivo o una carpeta) y, de
/// cada uno, los otros módulos que nombra con `crate::` fuera de sus
/// pruebas (`#[cfg(test)]` en adelante no cuenta).
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph = std::collections::BTreeMap::new();
    let mut files = vec![root().join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                fs::read_dir(&path)
                    .expect("src")
                    .map(|e| e.expect("entrada").path()),
            );
            continue;
        }
        let relative = path
            .strip_prefix(root().join("src"))
            .expect("dentro de src");
        let top = relative
            .iter()
            .next()
            .and_then(|c| c.to_str())
            .unwrap_or("");
        let module = top.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "bin" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("fuente");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let uses: &mut std::collections::BTreeSet<String> =
            graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    graph
}

#[test]
fn the_module_map_has_no_cycles_and_the_client_needs_nothing_of_the_server() {
    let graph = module_graph();
    assert!(
        graph.contains_key("session") && graph.contains_key("cliente"),
        "{graph:?}"
    );
    // Un círculo: un módulo que se alcanza a sí mismo siguiendo las flechas.
    for start in graph.keys() {
        let mut seen = std::collections::BTreeSet::new();
        let mut next: Vec<&String> = graph[start].iter().collect();
        while let Some(module) = next.pop() {
            assert_ne!(
                module, start,
                "círculo de importaciones por {start}: {graph:?}"
            );
            if seen.insert(module.clone()) {
                next.extend(graph.get(module).into_iter().flatten());
            }
        }
    }
    // El cliente usa solo piezas puras compartidas: el protocolo, el
    // encuadre, el modo confiable, el laboratorio de pérdidas y los candados.
    let shared = ["protocolo", "framing", "fiable", "lossy", "sync"];
    let foreign: Vec<&String> = graph["cliente"]
        .iter()
        .filter(|m| !shared.contains(&m.as_str()))
        .collect();
    assert!(foreign.is_empty(), "el cliente importa {foreign:?}");
    // Ninguna pieza pura conoce la sala, el libro ni los sockets del chat.
    for pure in ["protocolo", "framing", "fiable"] {
        let chat: Vec<&String> = graph[pure]
            .iter()
            .filter(|m| {
                ["session", "room", "ledger", "servidor", "udp", "outbox"].contains(&m.as_str())
            })
            .collect();
        assert!(chat.is_empty(), "{pure} importa {chat:?}");
    }
    // El servidor de eco (enunciado 002) comparte con el chat solo el
    // encuadre, la consola y la regla de los candados: ni el protocolo.
    assert_eq!(
        graph["echo"].iter().collect::<Vec<_>>(),
        ["console", "framing", "sync"],
        "el eco importa algo del chat"
    );
}
