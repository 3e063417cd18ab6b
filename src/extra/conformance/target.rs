//! El servidor que se califica: cómo se arranca (o dónde está, si lo
//! arrancó el docente), en qué puerto quedó y qué imprime en su consola.
//! No sabe qué se le pide al servidor: eso es de `checks`.
//!
//! El contrato de arranque (README, "Calificar el servidor de otro"; anexo
//! 9 del informe):
//! - con [`Target::Command`], la suite ejecuta el comando con
//!   `sh -c 'exec <comando> "$@"'`, agregando
//!   `--addr 127.0.0.1:0 --data-dir <un directorio vacío>` (y `--echo` para
//!   el servidor de eco del enunciado 002), y lee el puerto de la primera
//!   línea que el programa imprime: el último `:<número>` de esa línea
//!   (`Listening on 127.0.0.1:40123`). Todo lo demás que imprime es su
//!   consola;
//! - con [`Target::Addr`], el servidor ya está andando en esa dirección (un
//!   programa que no puede escuchar en el puerto 0 ni tomar opciones): la
//!   suite no ve su consola, y los requisitos de la consola quedan sin
//!   calificar.

use super::wire::split;
use crate::curso::sync::lock;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Qué servidor se califica.
#[derive(Debug, Clone)]
pub enum Target {
    /// Un comando de la shell que la suite arranca una vez por requisito,
    /// cada vez con un directorio de datos vacío (`SERVER_CMD`).
    Command(String),
    /// Un servidor que ya escucha en esta dirección (`SERVER_ADDR`).
    Addr(SocketAddr),
}

/// El servidor que se pide arrancar: el chat o el eco (enunciado 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Chat,
    Echo,
}

/// Cuántos bytes de la consola de un servidor guarda la suite, como
/// mucho: 16 MiB, mucho más que lo que imprime en un requisito. Un servidor
/// que imprime sin parar no hace crecer la memoria de la suite sin tope.
pub const MAX_CONSOLE_BYTES: usize = 16 << 20;

/// Lo que un programa imprimió, línea por línea, mientras corre.
#[derive(Default)]
pub struct Console {
    lines: Mutex<Printed>,
    changed: Condvar,
}

#[derive(Default)]
struct Printed {
    lines: Vec<String>,
    /// Lo que suman `lines`, en bytes.
    bytes: usize,
    /// El programa cerró su salida (terminó).
    ended: bool,
}

impl Console {
    /// Lee `from` en un hilo propio hasta que se cierra.
    fn follow(from: impl Read + Send + 'static) -> Arc<Console> {
        let console = Arc::new(Console::default());
        let writer = Arc::clone(&console);
        let _ = thread::Builder::new()
            .name("conformance console".into())
            .spawn(move || {
                let mut from = from;
                let mut pending = Vec::new();
                let mut chunk = [0u8; 8192];
                // Hasta que el programa cierra su salida (o falla la
                // lectura); lo último sin `\n` también es una línea.
                while let Ok(n @ 1..) = from.read(&mut chunk) {
                    pending.extend_from_slice(&chunk[..n]);
                    writer.keep(split(&mut pending));
                }
                if !pending.is_empty() {
                    pending.push(b'\n');
                    writer.keep(split(&mut pending));
                }
                lock(&writer.lines).ended = true;
                writer.changed.notify_all();
            });
        console
    }

    /// Guarda `lines`, hasta [`MAX_CONSOLE_BYTES`]: lo que un servidor
    /// imprime de más se lee (para que no se bloquee) y se tira.
    fn keep(&self, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let mut printed = lock(&self.lines);
        for line in lines {
            if printed.bytes + line.len() > MAX_CONSOLE_BYTES {
                break;
            }
            printed.bytes += line.len();
            printed.lines.push(line);
        }
        drop(printed);
        self.changed.notify_all();
    }

    /// Espera hasta `wait` una línea, desde la número `from` (0 = la
    /// primera), que cumpla `wanted`; devuelve su número. `None` si no
    /// llegó a tiempo o el programa terminó antes.
    pub fn wait_for(
        &self,
        from: usize,
        wait: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let deadline = Instant::now() + wait;
        let mut printed = lock(&self.lines);
        loop {
            if let Some(found) = printed.lines.iter().skip(from).position(|l| wanted(l)) {
                return Some(from + found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || printed.ended {
                return None;
            }
            printed = match self.changed.wait_timeout(printed, left) {
                Ok((printed, _)) => printed,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Las últimas `n` líneas, para el informe de un requisito que falla.
    pub fn last(&self, n: usize) -> Vec<String> {
        let printed = lock(&self.lines);
        let start = printed.lines.len().saturating_sub(n);
        printed.lines[start..].to_vec()
    }

    /// La línea número `n` (0 = la primera), si ya llegó.
    pub fn line(&self, n: usize) -> Option<String> {
        lock(&self.lines).lines.get(n).cloned()
    }

    /// `true` si el programa ya cerró su salida (terminó).
    pub fn ended(&self) -> bool {
        lock(&self.lines).ended
    }

    /// Cuántas líneas hay hasta ahora.
    pub fn len(&self) -> usize {
        lock(&self.lines).lines.len()
    }

    /// `true` si todavía no imprimió nada.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Un servidor andando: su dirección y, si la suite lo arrancó, su consola.
/// Al soltarlo, el programa arrancado (y todo su grupo de procesos) se
/// mata y su directorio de datos se borra.
pub struct Running {
    pub addr: SocketAddr,
    /// La salida estándar (la primera línea es la de la dirección): `None`
    /// si el servidor lo arrancó otro.
    pub console: Option<Arc<Console>>,
    child: Option<Child>,
    data_dir: Option<PathBuf>,
}

impl Target {
    /// Arranca (o encuentra) el servidor en `mode`. `wait`: cuánto se espera
    /// su primera línea. Error: el texto para el informe (no arrancó, no
    /// dijo su dirección, terminó).
    pub fn start(&self, mode: Mode, wait: Duration) -> Result<Running, String> {
        match self {
            Target::Addr(addr) => Ok(Running {
                addr: *addr,
                console: None,
                child: None,
                data_dir: None,
            }),
            Target::Command(command) => launch(command, mode, wait),
        }
    }

    /// `true` si la suite ve la consola del servidor.
    pub fn shows_console(&self) -> bool {
        matches!(self, Target::Command(_))
    }
}

fn launch(command: &str, mode: Mode, wait: Duration) -> Result<Running, String> {
    let data_dir = std::env::temp_dir().join(format!("calificar-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("no se pudo crear {}: {e}", data_dir.display()))?;
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("exec {command} \"$@\""))
        .arg("sh")
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir);
    if mode == Mode::Echo {
        shell.arg("--echo");
    }
    // Su propio grupo de procesos: al terminar se mata el grupo entero,
    // también lo que el comando haya lanzado (un `python3` detrás de un
    // guion).
    shell
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match shell.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&data_dir);
            return Err(format!("no se pudo ejecutar `{command}`: {e}"));
        }
    };
    let stdout = child.stdout.take().map(Console::follow);
    let stderr = child.stderr.take().map(Console::follow);
    let mut running = Running {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        console: None,
        child: Some(child),
        data_dir: Some(data_dir),
    };
    let Some(stdout) = stdout else {
        return Err("sin salida estándar".into());
    };
    let line = stdout
        .wait_for(0, wait, |_| true)
        .and_then(|n| stdout.line(n));
    let Some(line) = line else {
        if let (true, Some(stderr)) = (stdout.ended(), &stderr) {
            // Terminó: su salida de errores se termina de leer enseguida.
            let _ = stderr.wait_for(0, Duration::from_secs(1), |_| false);
        }
        let errors = stderr.map(|e| e.last(5)).unwrap_or_default();
        if stdout.ended() {
            return Err(format!(
                "`{command}` terminó sin imprimir su primera línea (la dirección); \
                 su salida de errores: {errors:?}"
            ));
        }
        return Err(format!(
            "`{command}` no imprimió su primera línea (la dirección) en {} s \
             (en Python, `print(..., flush=True)` o `python3 -u`: si no, la línea \
             espera en un búfer); su salida de errores: {errors:?}",
            wait.as_secs()
        ));
    };
    let Some(port) = port_in(&line) else {
        return Err(format!(
            "la primera línea de `{command}` no termina en `:<puerto>`: {line:?}"
        ));
    };
    running.addr.set_port(port);
    running.console = Some(stdout);
    Ok(running)
}

/// El puerto de una línea como `Listening on 127.0.0.1:40123`: el número
/// que sigue al último `:`.
pub fn port_in(line: &str) -> Option<u16> {
    let (_, after) = line.trim_end().rsplit_once(':')?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|port| *port != 0)
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // El grupo entero: el número del grupo es el del proceso.
            let group = child.id() as libc::pid_t;
            // SAFETY: `kill` solo envía una señal; con un número negativo,
            // al grupo que este programa creó para su hijo.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
            let _ = child.wait();
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Una consola que no es UTF-8 (un servidor que imprime en latin-1) se
    /// sigue leyendo, con `�` donde no se entiende, hasta su última línea,
    /// aunque no termine en `\n`.
    #[test]
    fn the_console_is_read_to_its_end_even_when_it_is_not_utf8() {
        let console = Console::follow(std::io::Cursor::new(b"uno\n\xf1and\xfa\ntres".to_vec()));
        let wait = Duration::from_secs(20);
        assert_eq!(console.wait_for(0, wait, |l| l == "tres"), Some(2));
        assert_eq!(console.line(1).as_deref(), Some("\u{FFFD}and\u{FFFD}"));
        // Sin otra línea que esperar, la espera termina cuando la lectura.
        assert_eq!(console.wait_for(0, wait, |_| false), None);
        assert!(console.ended());
    }

    #[test]
    fn the_port_is_the_number_after_the_last_colon() {
        assert_eq!(port_in("Listening on 127.0.0.1:40123"), Some(40123));
        assert_eq!(port_in("Esperando conexiones en [::1]:5500\r"), Some(5500));
        assert_eq!(port_in("Esperando conexiones"), None);
        assert_eq!(port_in("puerto :0"), None);
    }
}
