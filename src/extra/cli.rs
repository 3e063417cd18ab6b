//! Lo común a la línea de comandos de `servidor` y `cliente` (cada uno
//! tiene sus opciones en su módulo, con `clap`): decir sus errores en
//! castellano. No sabe nada del chat.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::process::ExitCode;

/// Un error de la línea de comandos dicho en castellano, en una línea, con
/// la opción culpable (los mensajes de `clap` están en inglés).
pub fn explain(error: &clap::Error) -> String {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => text.clone(),
        _ => String::new(),
    };
    let arg = context(ContextKind::InvalidArg);
    let value = context(ContextKind::InvalidValue);
    match error.kind() {
        ErrorKind::UnknownArgument => format!("no existe la opción {arg}"),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if !value.is_empty() => {
            // El porqué, si quien validó el valor lo dijo.
            let why = std::error::Error::source(error)
                .map(|why| format!(": {why}"))
                .unwrap_or_default();
            format!("{arg}: {value:?} no es un valor válido{why}")
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals => format!("{arg} necesita un valor"),
        _ => error.to_string(),
    }
}

/// Qué hacer con un error de `clap` al leer los argumentos de `program`:
/// `--help` se imprime y sale con 0; lo demás se explica en castellano por
/// la salida de errores y sale con 2 (el código de uso incorrecto).
pub fn exit(program: &str, error: &clap::Error) -> ExitCode {
    if error.kind() == ErrorKind::DisplayHelp {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{program}: {}\n`{program} --help` muestra las opciones.",
        explain(error)
    );
    ExitCode::from(2)
}
