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
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
#[cfg(feature = "extra")]
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

/// `true` si el servidor envía `event`. Un aviso que el curso no conoce
/// (`Event::Notice`) tiene que ser uno del programa completo: su tabla
/// (`extra/notices.rs`) o la cookie (`extra/cookie.rs`). La versión del
/// curso no tiene esas tablas: los deja a la prueba del programa completo.
fn known(event: &Event) -> bool {
    #[cfg(feature = "extra")]
    if let Event::Notice(text) = event {
        use chat::extra::{cookie, notices::Notice};
        let line = format!("[SERVER] Client: {text}");
        let is_cookie = cookie::cookie_from_line(&line)
            .is_some_and(|c| cookie::cookie_notice_line(c).trim_end() == line);
        return Notice::parse(text).is_some() || is_cookie;
    }
    !matches!(event, Event::Notice(_)) || cfg!(not(feature = "extra"))
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
                Some(event) if event.to_line().trim_end() == quoted && known(&event) => {
                    checked += 1;
                }
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

#[cfg(feature = "extra")]
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

#[cfg(feature = "extra")]
fn help(binary: &str) -> String {
    let path = match binary {
        "servidor" => env!("CARGO_BIN_EXE_servidor"),
        "cliente" => env!("CARGO_BIN_EXE_cliente"),
        "calificar" => env!("CARGO_BIN_EXE_calificar"),
        other => panic!("no hay binario {other}"),
    };
    let output = Command::new(path).arg("--help").output().expect("--help");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// Solo el programa completo: los comandos del README y del informe usan las opciones del programa completo.
#[cfg(feature = "extra")]
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

/// Los archivos `.rs` bajo `dir`, a cualquier profundidad, en `out`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Todas las palabras del código (sin los comentarios): los nombres que el
/// programa, sus pruebas y sus manifiestos definen o usan.
fn code_words() -> std::collections::HashSet<String> {
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "benches",
        "examples",
        "cliente-gui/src",
        "cliente-gui/tests",
    ] {
        rust_files(&root().join(dir), &mut files);
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
        "src/extra/laboratorio/reliable.rs",
        "PACKET_THRESHOLD",
        "3",
        "Si llegaron tres datagramas enviados después",
    ),
    (
        "src/extra/laboratorio/reliable.rs",
        "WINDOW",
        "32",
        "ventana de 32",
    ),
    (
        "src/extra/laboratorio/reliable.rs",
        "MAX_RETRIES",
        "15",
        "tras 15 sondas seguidas",
    ),
    (
        "src/extra/rendimiento/flusher.rs",
        "STUCK_AFTER",
        "Duration::from_secs(1)",
        "tras 1 s sin que su socket acepte nada",
    ),
    (
        "src/curso/protocolo.rs",
        "MAX_LINE_BYTES",
        "4096",
        "4096 bytes",
    ),
    (
        "src/curso/echo.rs",
        "MAX_ECHO_LINE_BYTES",
        "4096",
        "una línea de más de 4096 bytes",
    ),
    ("src/curso/udp.rs", "RECV_BUFFER", "65_536", "64 KiB"),
    (
        "src/extra/cliente/proof.rs",
        "UNPROVEN_DATAGRAM_BYTES",
        "64",
        "hasta 64 bytes",
    ),
    ("src/extra/cookie.rs", "AMPLIFICATION", "3", "triple"),
    (
        "src/extra/rendimiento/outbox.rs",
        "CHUNK",
        "64 * 1024",
        "trozos de 64 KiB",
    ),
    (
        "src/extra/rendimiento/outbox.rs",
        "HAND_OFF_FANOUT",
        "128",
        "Con 128, las entregas",
    ),
    (
        "src/extra/cookie.rs",
        "WINDOW",
        "Duration::from_secs(60)",
        "lo que queda de su ventana de 60 s y la ventana siguiente",
    ),
    (
        "src/extra/laboratorio/reliable.rs",
        "GRANULARITY",
        "Duration::from_millis(1)",
        "un tic de 1 ms, `GRANULARITY`",
    ),
    (
        "src/extra/laboratorio/reliable.rs",
        "MAX_RETRIES",
        "15",
        "tras 15 sondas seguidas",
    ),
    (
        "src/extra/send_buffer.rs",
        "DEFAULT_BYTES",
        "64 * 1024",
        "64 KiB pedidos",
    ),
];

/// Los hilos con nombre que arranca el servidor del chat (`.name("...")`
/// en `src/`, sin los clientes, el eco ni la suite de conformidad, que
/// 3.1 no dibuja), por la
/// primera palabra del nombre: `hasher 0` es `hasher`.
fn server_thread_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let server = source_modules().into_iter().filter(|(module, _)| {
        !module.starts_with("curso::cliente")
            && !module.starts_with("extra::cliente")
            && module != "curso::echo"
            && !module.starts_with("extra::conformance")
    });
    for (_, path) in server {
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

/// Los módulos de `src/`, uno por archivo (sin `lib.rs` ni `bin/`):
/// `src/curso/cliente/core.rs` es `curso::cliente::core` y
/// `src/extra/rendimiento/mod.rs` es `extra::rendimiento`.
fn source_modules() -> BTreeMap<String, PathBuf> {
    let mut modules = BTreeMap::new();
    let src = root().join("src");
    let mut stack = vec![src.clone()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if !path.ends_with("bin") {
                stack.extend(
                    fs::read_dir(&path)
                        .expect("src")
                        .map(|e| e.expect("entrada").path()),
                );
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || path == src.join("lib.rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).expect("dentro de src");
        let mut parts: Vec<String> = relative
            .iter()
            .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        modules.insert(parts.join("::"), path);
    }
    modules
}

/// `use a::{b, c::{d, e}}` como caminos sueltos: `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(prefix: &str, tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return if path.is_empty() {
            Vec::new()
        } else {
            vec![format!("{prefix}{path}")]
        };
    };
    let head = &tree[..open];
    let mut depth = 0;
    let mut items = vec![String::new()];
    for c in tree[open + 1..].chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(c);
        }
    }
    let inner = format!("{prefix}{head}");
    items
        .iter()
        .flat_map(|item| match item.trim() {
            "self" => vec![inner.trim_end_matches("::").to_string()],
            item => expand_use(&inner, item),
        })
        .collect()
}

/// Los caminos que nombra el código de un archivo, sin sus pruebas ni sus
/// comentarios: los de cada `use` (con las llaves abiertas) y cada
/// `crate::...`, `super::...` o `self::...` del resto.
fn named_paths(text: &str) -> Vec<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    // Lo que no es un `use` (cada `use` se lee aparte y se borra de aquí).
    let mut rest = code.clone();
    for (at, _) in code.match_indices("use ") {
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| word(c) || c == ':')
        {
            continue;
        }
        if let Some(end) = code[at..].find(';') {
            paths.extend(expand_use("", &code[at + 4..at + end]));
            rest.replace_range(at..at + end, &" ".repeat(end));
        }
    }
    for root_word in ["crate::", "super::", "self::"] {
        for (at, _) in rest.match_indices(root_word) {
            if rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| word(c) || c == ':')
            {
                continue;
            }
            let path: String = rest[at..]
                .chars()
                .take_while(|&c| word(c) || c == ':')
                .collect();
            paths.push(path.trim_end_matches(':').to_string());
        }
    }
    paths
}

/// El grafo de importaciones entre archivos: de cada módulo, los otros
/// módulos de `src/` que nombra (el más largo que encaja con cada camino).
fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = source_modules();
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let here: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").collect()
        };
        let mut uses = BTreeSet::new();
        for path in named_paths(&fs::read_to_string(path).expect("fuente")) {
            let mut segments = path.split("::").peekable();
            let mut target: Vec<&str> = match segments.peek() {
                Some(&"crate") => {
                    segments.next();
                    Vec::new()
                }
                Some(&"super" | &"self") => here.clone(),
                _ => continue,
            };
            for segment in segments {
                match segment {
                    "super" => {
                        target.pop();
                    }
                    "self" => {}
                    name => target.push(name),
                }
            }
            let found = (1..=target.len())
                .rev()
                .map(|n| target[..n].join("::"))
                .find(|name| modules.contains_key(name));
            if let Some(found) = found.filter(|found| found != module) {
                uses.insert(found);
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// Un círculo del grafo, si hay: un camino que vuelve a su primer módulo.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        module: &str,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_string());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(graph, start, &mut done, &mut Vec::new()))
}

/// Ningún archivo de `curso/` nombra a `extra/`: ni en el código ni en
/// un comentario. Un comentario puede contar la idea de un punto de
/// enchufe ("el programa completo pide una cookie"), no dar un camino: el
/// estudiante que lee el curso no tiene por qué ir a buscarlo.
#[test]
fn no_course_file_names_extra() {
    let mut files = Vec::new();
    rust_files(&root().join("src/curso"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut named = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("leer");
        for (n, line) in text.lines().enumerate() {
            if line.contains("extra::") || line.contains("extra/") {
                named.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        named.is_empty(),
        "curso/ nombra a extra/:\n{}",
        named.join("\n")
    );
}

/// La versión del curso compila donde compile Rust: `curso/` usa solo la
/// parte portátil de `std`. Nada de `unsafe` (además, `#![forbid]` en
/// `curso/mod.rs`), de `libc`, de `std::os::` ni de `cfg(unix)`.
#[test]
fn the_course_uses_only_portable_std() {
    let mut files = Vec::new();
    rust_files(&root().join("src/curso"), &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("leer");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let bad = [
                "unsafe ",
                "unsafe{",
                "libc",
                "std::os::",
                "cfg(unix)",
                "cfg(target_os",
            ];
            if bad.iter().any(|b| code.contains(b)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "curso/ no es portátil:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_file_map_has_no_circle_and_the_course_never_crosses_into_extra() {
    let graph = file_graph();
    assert!(
        graph.contains_key("curso::session") && graph.contains_key("curso::cliente::core"),
        "{graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("círculo de importaciones: {}", cycle.join(" → "));
    }
    let crossings: BTreeSet<(String, String)> = graph
        .iter()
        .filter(|(module, _)| module.starts_with("curso"))
        .flat_map(|(module, uses)| {
            uses.iter()
                .filter(|used| used.starts_with("extra"))
                .map(move |used| (module.clone(), used.clone()))
        })
        .collect();
    // Lo que el programa completo agrega entra por los puntos de enchufe
    // de `curso` (`seams`, `cliente::seams`): ningún archivo del curso
    // importa algo de `extra`.
    assert!(
        crossings.is_empty(),
        "curso/ usa extra/ directamente: {crossings:?}"
    );

    // El cliente no usa nada del servidor: dentro de `curso`, solo el
    // protocolo, el encuadre, los candados y sus propios archivos.
    let shared = ["curso::protocolo", "curso::framing", "curso::sync"];
    for (module, uses) in graph
        .iter()
        .filter(|(m, _)| m.starts_with("curso::cliente"))
    {
        let foreign: Vec<&String> = uses
            .iter()
            .filter(|m| m.starts_with("curso") && !m.starts_with("curso::cliente"))
            .filter(|m| !shared.contains(&m.as_str()))
            .collect();
        assert!(foreign.is_empty(), "{module} importa {foreign:?}");
    }
    // Ninguna pieza pura conoce la sala, el libro ni los sockets del chat.
    let chat = [
        "curso::session",
        "curso::room",
        "curso::ledger",
        "curso::servidor",
        "curso::udp",
        "extra::rendimiento::outbox",
    ];
    for pure in [
        "curso::protocolo",
        "curso::framing",
        "extra::laboratorio::reliable",
    ] {
        let knows: Vec<&String> = graph[pure]
            .iter()
            .filter(|m| chat.contains(&m.as_str()))
            .collect();
        assert!(knows.is_empty(), "{pure} importa {knows:?}");
    }
    // El servidor de eco (enunciado 002) comparte con el chat solo el
    // encuadre, la consola y su punto de enchufe: ni el protocolo.
    assert_eq!(
        graph["curso::echo"].iter().collect::<Vec<_>>(),
        ["curso::console", "curso::framing", "curso::seams"],
        "el eco importa algo del chat"
    );
}

/// La lectura de caminos entiende las formas que usa el código: llaves
/// anidadas, `self`, `as`, `super::super`.
#[test]
fn the_path_reader_understands_grouped_uses() {
    assert_eq!(
        expand_use("", "crate::a::{b, c::{d, self}, e as f}"),
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c",
            "crate::a::e"
        ]
    );
    let code = "use super::x::{y, z};\nfn f() { crate::w::v(); self::q::r; }\n// crate::nope\n";
    assert_eq!(
        named_paths(code),
        ["super::x::y", "super::x::z", "crate::w::v", "self::q::r"]
    );
}

/// El bucle de `recv_from` del servidor UDP está en la primera pantalla de
/// `src/curso/udp.rs`: dentro de sus primeras 60 líneas de código (sin
/// comentarios ni líneas en blanco), donde lo busca quien lee el curso.
#[test]
fn the_udp_loop_is_on_the_first_screen_of_udp_rs() {
    let text = std::fs::read_to_string("src/curso/udp.rs").expect("udp.rs");
    let code: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .collect();
    let at = code
        .iter()
        .position(|line| line.contains("socket.receive("))
        .expect("el bucle llama a socket.receive");
    assert!(
        code[..at].iter().any(|line| line.starts_with("loop {")),
        "la llamada está dentro del bucle"
    );
    assert!(at < 60, "el bucle está en la línea de código {}", at + 1);
}
