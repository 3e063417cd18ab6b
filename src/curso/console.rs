//! La consola del servidor: las líneas que cuentan lo que pasa (`Connection
//! from ...`, `alice: hola`, errores). Todo el servidor escribe en una
//! [`Console`], un punto de enchufe: en el curso, la salida estándar
//! ([`stdout_console`]); en las pruebas, un canal (cualquier `Fn(&str)`).
//!
//! Escribir en la salida estándar puede bloquearse: si es una tubería que
//! nadie lee, o alguien pulsa Ctrl-S en la terminal, el `write` espera en
//! cuanto se llena el búfer del kernel (64 KiB en una tubería de Linux), y
//! con él el hilo del cliente que registraba. El programa completo enchufa
//! una cola acotada con su propio hilo escritor, que nunca hace esperar a
//! nadie.
//!
//! No decide qué se registra ni con qué texto: eso es de quien llama.

use std::io::{self, Write};

/// La consola que comparten todos los hilos del servidor: registra una
/// línea (sin `\n`). En el programa, la salida estándar; en las pruebas,
/// un vector o un canal.
pub type Console = Box<dyn Fn(&str) + Send + Sync>;

/// La consola del curso: cada línea directo a la salida estándar, con su
/// candado (`lock`) para que dos hilos no mezclen sus líneas. Si no se puede
/// escribir (la salida se cerró), la línea se pierde: el chat sigue.
pub fn stdout_console() -> Console {
    Box::new(|line: &str| {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    })
}
