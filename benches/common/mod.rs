//! Lo que comparten los tres benchmarks: arrancar un `servidor` de verdad en
//! `127.0.0.1:0` con un directorio de datos temporal, saber en qué puerto
//! quedó, leer su memoria en `/proc` y matarlo al terminar. No mide nada:
//! cada benchmark decide qué carga le pone.

#![allow(dead_code)] // cada benchmark usa una parte

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread;

/// Un servidor arrancado por el benchmark; se mata al soltarlo.
pub struct Launched {
    /// Dónde escucha (TCP y UDP).
    pub addr: SocketAddr,
    /// El proceso.
    pub child: Child,
    /// El directorio de datos, que se borra al soltarlo.
    _data: tempfile::TempDir,
}

impl Launched {
    /// Arranca `command` (el binario `servidor` con sus opciones) con
    /// `--addr 127.0.0.1:0` y un directorio de datos temporal, y espera su
    /// primera línea, `Listening on <dirección>`. La consola imprime cada
    /// mensaje público: un hilo la lee y la descarta, para que el servidor
    /// nunca se bloquee escribiéndola. Error: si no arranca o su primera
    /// línea es otra.
    pub fn start(mut command: Command) -> io::Result<Launched> {
        let data = tempfile::tempdir()?;
        let mut child = command
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or(io::Error::other("no stdout"))?;
        let mut console = BufReader::with_capacity(1 << 16, stdout);
        let mut first = String::new();
        console.read_line(&mut first)?;
        let Some(addr) = first
            .trim()
            .strip_prefix("Listening on ")
            .and_then(|a| a.parse().ok())
        else {
            let _ = child.kill();
            return Err(io::Error::other(format!("primera línea {first:?}")));
        };
        thread::spawn(move || {
            let mut sink = [0u8; 1 << 16];
            while matches!(console.read(&mut sink), Ok(n) if n > 0) {}
        });
        Ok(Launched {
            addr,
            child,
            _data: data,
        })
    }

    /// Un campo de `/proc/<pid>/status` en KiB (`VmRSS:`, `VmHWM:`) o en
    /// unidades (`Threads:`); 0 si no se puede leer.
    pub fn status(&self, field: &str) -> u64 {
        proc_status(self.child.id(), field)
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Un campo numérico de `/proc/<pid>/status` (el primer número tras
/// `field`); 0 si el proceso ya no existe o no tiene ese campo.
pub fn proc_status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
