//! La clave sin mostrarla, en el cliente de la versión del curso: si en una
//! terminal se escribe `:login <nombre>` o `:register <nombre>` sin clave,
//! se la pide aparte, con el eco de la terminal apagado. `std` no sabe
//! apagar el eco; la terminal sí: `stty -echo`, el programa de siempre
//! (Linux, macOS). Donde no está (Windows), lo dice y la clave se ve.
//!
//! Es dueño de esa pregunta y nada más: las líneas siguen siendo las del
//! usuario, y el cliente las envía como cualquier otra. El programa
//! completo tiene su propio editor de líneas, que tapa la clave con
//! asteriscos.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

/// Lo que se muestra antes de leer la clave.
const PROMPT: &str = "Password: ";

/// Las líneas de `input` (la entrada estándar), con la clave pedida aparte
/// cuando falta y la entrada es una terminal. Termina con el fin de la
/// entrada o con su primer error de lectura. Un `\r` final se quita;
/// bytes que no son UTF-8 se reemplazan.
pub fn lines(input: io::Stdin) -> impl Iterator<Item = String> + Send + 'static {
    let terminal = input.is_terminal();
    std::iter::from_fn(move || {
        let line = read_line(&mut input.lock())?;
        if !terminal {
            return Some(line);
        }
        match without_password(&line) {
            Some(command) => {
                let password = ask_password(&mut input.lock())?;
                Some(format!("{command} {password}"))
            }
            None => Some(line),
        }
    })
}

/// Una línea de `input`, sin su fin de línea. `None` al terminar la
/// entrada o con un error de lectura.
fn read_line(input: &mut impl BufRead) -> Option<String> {
    let mut raw = Vec::new();
    match input.read_until(b'\n', &mut raw) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            let text = String::from_utf8_lossy(&raw);
            Some(text.trim_end_matches(['\n', '\r']).to_string())
        }
    }
}

/// `Some(":login ana")` si `line` es una entrada con nombre y sin clave.
pub fn without_password(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [command @ (":login" | ":register"), name] => Some(format!("{command} {name}")),
        _ => None,
    }
}

/// Pide la clave con el eco apagado (`stty -echo`) y lo vuelve a
/// encender. Si no se pudo apagar, lo dice: la clave se va a ver. `None`
/// si la entrada terminó.
fn ask_password(input: &mut impl BufRead) -> Option<String> {
    let hidden = stty("-echo");
    let mut out = io::stdout();
    let notice = if hidden {
        PROMPT.to_string()
    } else {
        format!("(this terminal cannot hide it: it will show) {PROMPT}")
    };
    let _ = out.write_all(notice.as_bytes());
    let _ = out.flush();
    let password = read_line(input);
    if hidden {
        stty("echo");
        // El Enter no se vio: se termina la línea del prompt.
        let _ = writeln!(out);
    }
    password
}

/// Corre `stty <setting>` sobre la terminal de la entrada estándar.
/// `true` si pudo.
fn stty(setting: &str) -> bool {
    Command::new("stty")
        .arg(setting)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_without_a_password_is_recognised() {
        assert_eq!(without_password(":login ana"), Some(":login ana".into()));
        assert_eq!(
            without_password("  :register  bob "),
            Some(":register bob".into())
        );
        assert_eq!(without_password(":login ana clave"), None);
        assert_eq!(without_password(":login"), None);
        assert_eq!(without_password("hola ana"), None);
    }

    #[test]
    fn lines_lose_their_line_ends() {
        let mut input = io::Cursor::new(b"uno\r\ndos\n\xfftres".to_vec());
        assert_eq!(read_line(&mut input).as_deref(), Some("uno"));
        assert_eq!(read_line(&mut input).as_deref(), Some("dos"));
        assert_eq!(read_line(&mut input).as_deref(), Some("\u{FFFD}tres"));
        assert_eq!(read_line(&mut input), None);
    }
}
