//! El modo interactivo del cliente, cuando la entrada y la salida son una
//! terminal: una línea de edición de `rustyline` (flechas,
//! historial de la sesión, Ctrl-A/Ctrl-E...), las líneas que llegan
//! impresas *encima* de la que se está escribiendo sin romperla, un prompt
//! que dice quién es uno y por dónde viajan sus líneas (`alice@tcp> `),
//! contraseñas que no se ven y colores (salvo con `NO_COLOR`).
//!
//! Es otra interfaz del núcleo (`core`): las líneas que escribe el usuario
//! son el iterador de entrada, y lo que el núcleo muestra llega a
//! [`Printer`]. No sabe nada del protocolo más allá de qué es un mensaje y
//! qué lleva una contraseña. Con la entrada en una tubería no se usa: ahí
//! el cliente sigue línea por línea, sin adornos, como lo esperan los
//! guiones y las pruebas.

use crate::curso::cliente::ending::Ending;
use crate::curso::cliente::screen::{Screen, Shown};
use crate::curso::protocolo::{self, Command, Event};
use crate::curso::sync::lock;
use crate::extra::cliente::{Mode, Plugins, Settings};
use crate::extra::notices::Notice;
use rustyline::completion::Completer;
use rustyline::config::{ColorMode, Config as EditorConfig};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Editor, ExternalPrinter, Helper};
use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use unicode_width::UnicodeWidthStr;

/// El prompt de la contraseña pedida aparte.
const PASSWORD_PROMPT: &str = "Password: ";

/// Cuánto se le da al editor, si la sesión termina mientras lee, para
/// imprimir lo que tiene en su cola.
const LAST_PRINT: std::time::Duration = std::time::Duration::from_millis(150);

/// Corre el cliente con la terminal: el editor lee las líneas y
/// `Printer` muestra lo que llega. Devuelve lo mismo que
/// [`crate::curso::cliente::run_on`]. Errores: no se pudo preparar la terminal o conectar.
pub fn run(settings: &Settings, plugins: Plugins) -> io::Result<Ending> {
    let saved = TerminalMode::save();
    let helper = Masking::default();
    let editing = EditorConfig::builder()
        // El resaltado es lo que tapa las contraseñas: siempre activo.
        .color_mode(ColorMode::Forced)
        .auto_add_history(false)
        .build();
    let mut editor = Editor::with_config(editing).map_err(io::Error::other)?;
    editor.set_helper(Some(helper.clone()));
    let printer = editor.create_external_printer().map_err(io::Error::other)?;
    let screen = Arc::new(Printer {
        out: Mutex::new(Output {
            printer: Box::new(printer),
            reading: false,
            held: Vec::new(),
        }),
        prompt: Mutex::new(Prompt::new(&settings.mode, plugins.reliable.is_some())),
        colours: colours_wanted(),
    });
    helper.attach(Arc::clone(&screen));
    let lines = Lines {
        editor,
        helper,
        screen: Arc::clone(&screen),
        erase_next: 0,
    };
    let shown = Arc::clone(&screen) as Arc<dyn Screen>;
    let ending = crate::extra::cliente::run_on(settings, plugins, lines, shown);
    if screen.output().reading {
        // La sesión terminó mientras el usuario escribía: el último aviso
        // (el apagado del servidor) está en la cola del editor, que lo
        // imprime en su hilo. Se le da un momento antes de salir.
        std::thread::sleep(LAST_PRINT);
    }
    // Lo que llegó tras la última línea (la despedida) espera su lectura,
    // que ya no habrá.
    screen.start_reading(0);
    // El hilo que lee el teclado puede seguir dentro de `readline`, con la
    // terminal en modo crudo: se la deja como estaba antes de salir, y lo
    // que siga (el motivo del final) empieza en una fila nueva.
    saved.restore();
    println!();
    ending
}

/// Si van colores: no con `NO_COLOR` (<https://no-color.org>).
fn colours_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Quién es uno y por dónde viajan sus líneas, para el prompt.
struct Prompt {
    name: Option<String>,
    transport: &'static str,
    /// Ya en la sala: una línea que no es comando es un mensaje (antes,
    /// puede ser la respuesta a la pregunta del saldo).
    joined: bool,
    /// Hasta cuándo se puede iniciar sesión, si el servidor lo anunció al
    /// saludar (`You have 60 seconds to sign in.`); se olvida al entrar.
    signin_deadline: Option<Instant>,
}

impl Prompt {
    /// `reliable`: `--udp --reliable`, que se muestra como `reliable-udp`.
    fn new(mode: &Mode, reliable: bool) -> Prompt {
        let transport = match (mode, reliable) {
            (Mode::Udp, true) => "reliable-udp",
            (Mode::Udp, false) => "udp",
            _ => "tcp",
        };
        Prompt {
            name: None,
            transport,
            joined: false,
            signin_deadline: None,
        }
    }

    /// `alice@tcp> `, o `chat@tcp> ` antes de iniciar sesión (`alice@udp> `,
    /// `alice@reliable-udp> ` en los otros modos). Mientras corre el plazo
    /// para iniciar sesión, los segundos que quedan a la hora `now`:
    /// `chat@tcp 42s> ` (se calcula al mostrar el prompt, en cada línea).
    fn text(&self, now: Instant) -> String {
        let name = self.name.as_deref().unwrap_or("chat");
        match self.signin_deadline.filter(|_| self.name.is_none()) {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(now).as_secs();
                format!("{name}@{} {left}s> ", self.transport)
            }
            None => format!("{name}@{}> ", self.transport),
        }
    }
}

/// Lo que se muestra, y cómo llega a la terminal.
struct Output {
    printer: Box<dyn ExternalPrinter + Send>,
    /// El editor está leyendo una línea: lo que llega lo imprime `rustyline`
    /// encima de ella. Si no, se guarda en `held` hasta la próxima lectura.
    reading: bool,
    held: Vec<String>,
}

/// La pantalla del modo interactivo.
///
/// `rustyline` imprime por su cuenta lo que se le pasa mientras lee una
/// línea: borra la línea en edición, escribe el mensaje y la vuelve a
/// dibujar. Entre una lectura y la siguiente (justo tras Enter) se guardan
/// los mensajes: en ese momento el cliente borra de la pantalla la línea
/// recién enviada, y un mensaje impreso ahí se borraría en su lugar.
pub struct Printer {
    out: Mutex<Output>,
    prompt: Mutex<Prompt>,
    colours: bool,
}

impl Printer {
    fn output(&self) -> std::sync::MutexGuard<'_, Output> {
        lock(&self.out)
    }

    fn prompt(&self) -> std::sync::MutexGuard<'_, Prompt> {
        lock(&self.prompt)
    }

    /// Enter: desde ahora, hasta la próxima lectura, los mensajes esperan.
    fn stop_reading(&self) {
        self.output().reading = false;
    }

    /// Antes de leer otra línea: se escribe lo que esperaba y los mensajes
    /// vuelven a pasar por el editor. `erase`: cuántas filas de arriba (la
    /// línea recién enviada) se borran antes.
    fn start_reading(&self, erase: usize) {
        let mut out = self.output();
        let mut text = String::new();
        if erase > 0 {
            // Sube `erase` filas, vuelve al principio y borra hasta el final.
            text.push_str(&format!("\x1b[{erase}A\r\x1b[J"));
        }
        for line in out.held.drain(..) {
            text.push_str(&line);
        }
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
        out.reading = true;
    }

    fn colour(&self, shown: &Shown) -> &'static str {
        if !self.colours {
            return "";
        }
        match shown {
            // Colores que se leen sobre fondo claro y oscuro: nada de
            // amarillo ni cian (sobre blanco casi no se ven).
            Shown::Own { to: None, .. } => "\x1b[1m",
            Shown::Own { to: Some(_), .. } => "\x1b[1;35m",
            Shown::Server { event, .. } => match event {
                Some(Event::Private { .. }) => "\x1b[35m",
                Some(Event::Public { .. }) => "",
                Some(Event::Error(_) | Event::Replaced) => "\x1b[31m",
                // Los avisos que cierran la sesión (el apagado, el plazo...).
                Some(event) if Notice::of(event).is_some_and(|n| n.ending().is_some()) => {
                    "\x1b[31m"
                }
                _ => "\x1b[34m",
            },
            Shown::Note { warning: true, .. }
            | Shown::UdpSilent
            | Shown::UdpNotReady
            | Shown::UdpUnavailable(_) => "\x1b[31m",
            _ => "\x1b[32m",
        }
    }
}

impl Screen for Printer {
    fn show(&self, shown: Shown) {
        match &shown {
            Shown::Identity { name, .. } => self.prompt().name = Some(name.clone()),
            Shown::Server {
                event: Some(event), ..
            } if let Some(Notice::PromptWithin(secs)) = Notice::of(event) => {
                let deadline = Instant::now() + Duration::from_secs(secs);
                self.prompt().signin_deadline = Some(deadline);
            }
            Shown::Travel(by_udp) => {
                self.prompt().transport = if *by_udp { "udp" } else { "tcp" };
            }
            Shown::Server {
                event: Some(Event::BalanceSet(_) | Event::Funds(_)),
                ..
            } => self.prompt().joined = true,
            _ => {}
        }
        let colour = self.colour(&shown);
        let reset = if colour.is_empty() { "" } else { "\x1b[0m" };
        let line = format!("{colour}{}{reset}\n", shown.text());
        let mut out = self.output();
        if out.reading {
            // Si la terminal ya no está, no hay a quién mostrarle nada.
            let _ = out.printer.print(line);
        } else {
            out.held.push(line);
        }
    }
}

/// El ayudante del editor: tapa las contraseñas mientras se escriben y
/// avisa a la pantalla cuando se aprieta Enter.
#[derive(Clone, Default)]
struct Masking {
    inner: Arc<Mutex<MaskingState>>,
}

#[derive(Default)]
struct MaskingState {
    /// Se está escribiendo la contraseña pedida aparte: se tapa todo.
    whole_line: bool,
    screen: Option<Arc<Printer>>,
}

impl Masking {
    fn state(&self) -> std::sync::MutexGuard<'_, MaskingState> {
        lock(&self.inner)
    }

    fn attach(&self, screen: Arc<Printer>) {
        self.state().screen = Some(screen);
    }

    fn mask_whole_line(&self, on: bool) {
        self.state().whole_line = on;
    }
}

impl Highlighter for Masking {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        let start = if self.state().whole_line {
            Some(0)
        } else {
            password_start(line)
        };
        match start {
            Some(start) => {
                let hidden = "*".repeat(line[start..].width());
                Cow::Owned(format!("{}{hidden}", &line[..start]))
            }
            None => Cow::Borrowed(line),
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        // Redibujar con cada tecla: si no, la letra recién escrita se vería.
        kind != CmdKind::MoveCursor
    }
}

impl Validator for Masking {
    fn validate(&self, _ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        // Enter, dentro de `readline`: desde aquí los mensajes esperan
        // (ver `Printer`).
        if let Some(screen) = &self.state().screen {
            screen.stop_reading();
        }
        Ok(ValidationResult::Valid(None))
    }
}

impl Completer for Masking {
    type Candidate = String;
}

impl Hinter for Masking {
    type Hint = String;
}

impl Helper for Masking {}

/// Dónde empieza la contraseña en `:login nombre clave` o
/// `:register nombre clave`, si la línea la trae.
fn password_start(line: &str) -> Option<usize> {
    let rest = line.trim_start();
    let verb = rest
        .strip_prefix(":login ")
        .or(rest.strip_prefix(":register "))?;
    let name_at = line.len() - verb.len() + (verb.len() - verb.trim_start().len());
    let name_len = line[name_at..].find(' ')?;
    let after_name = name_at + name_len;
    let password_at =
        after_name + (line[after_name..].len() - line[after_name..].trim_start().len());
    (password_at < line.len()).then_some(password_at)
}

/// Las líneas del usuario, leídas con el editor.
struct Lines {
    editor: Editor<Masking, rustyline::history::DefaultHistory>,
    helper: Masking,
    screen: Arc<Printer>,
    /// Filas que borrar antes de la próxima lectura: la línea recién
    /// enviada, si era un mensaje (el núcleo la muestra como `Me: ...`).
    erase_next: usize,
}

impl Lines {
    /// Una línea con `prompt`; `None` al terminar la entrada (Ctrl-D o
    /// Ctrl-C, que aquí equivalen a `:q`).
    fn read(&mut self, prompt: &str, erase: usize) -> Option<String> {
        self.screen.start_reading(erase);
        let line = self.editor.readline(prompt);
        self.screen.stop_reading();
        match line {
            Ok(line) => Some(line),
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => None,
            Err(_) => None,
        }
    }

    /// `:login alice` sin clave: la pide aparte, tapada. Devuelve la línea
    /// completa y cuántas filas ocupó la contraseña, o `None` si el usuario
    /// canceló.
    fn ask_password(&mut self, line: &str) -> Option<(String, usize)> {
        self.helper.mask_whole_line(true);
        let password = self.read(PASSWORD_PROMPT, 0);
        self.helper.mask_whole_line(false);
        let password = password?;
        let rows = rows(PASSWORD_PROMPT, &password);
        Some((format!("{} {}", line.trim_end(), password.trim()), rows))
    }
}

impl Iterator for Lines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut erase = std::mem::take(&mut self.erase_next);
        loop {
            let prompt = self.screen.prompt().text(Instant::now());
            let typed = self.read(&prompt, erase)?;
            let parsed = protocolo::parse_command(&typed);
            // La fila de la contraseña pedida aparte también se borra.
            let (line, asked) = match &parsed {
                Err(_) if wants_password(&typed) => self.ask_password(&typed)?,
                _ => (typed.clone(), 0),
            };
            let is_message = self.screen.prompt().joined
                && matches!(
                    parsed,
                    Ok(Some(Command::Public(_) | Command::Private { .. }))
                );
            let secret = password_start(&line).is_some();
            if !secret && !line.trim().is_empty() {
                let _ = self.editor.add_history_entry(line.as_str());
            }
            if line.trim().is_empty() {
                erase = rows(&prompt, &typed);
                continue;
            }
            // Un mensaje se ve como `Me: hola` (lo muestra el núcleo): la
            // línea escrita se borra para no verlo dos veces. Un comando
            // queda, como en una terminal: lo que importa es su respuesta.
            erase = if is_message { rows(&prompt, &typed) } else { 0 };
            self.erase_next = erase + asked;
            return Some(line);
        }
    }
}

/// `:login nombre` o `:register nombre`, sin la clave.
fn wants_password(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    matches!(words.as_slice(), [":login" | ":register", _])
}

/// Cuántas filas de la terminal ocupó `prompt` + `line` (una línea larga
/// se parte en varias).
fn rows(prompt: &str, line: &str) -> usize {
    let width = prompt.width() + line.width();
    let columns = terminal_columns().max(1);
    width / columns + 1
}

/// El ancho de la terminal en columnas (80 si no se sabe).
fn terminal_columns() -> usize {
    // SAFETY: `ioctl(TIOCGWINSZ)` solo escribe en `size`, que vive aquí.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// El modo de la terminal al arrancar, para dejarla igual al salir aunque
/// el editor siga en modo crudo en otro hilo.
struct TerminalMode(Option<libc::termios>);

impl TerminalMode {
    fn save() -> TerminalMode {
        // SAFETY: `tcgetattr` solo escribe en `mode`, que vive aquí.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut mode) } == 0;
        TerminalMode(ok.then_some(mode))
    }

    fn restore(&self) {
        if let Some(mode) = &self.0 {
            // SAFETY: `mode` es un `termios` que devolvió `tcgetattr`.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, mode) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_in_a_sign_in_line_is_found() {
        assert_eq!(password_start(":login ana clave"), Some(11));
        assert_eq!(password_start(":register  ana   clave"), Some(17));
        assert_eq!(password_start(":login ana"), None);
        assert_eq!(password_start(":login ana "), None);
        assert_eq!(password_start("hola :login ana x"), None);
        let masked = Masking::default()
            .highlight(":login ana clave", 0)
            .into_owned();
        assert_eq!(masked, ":login ana *****");
    }

    #[test]
    fn a_sign_in_without_password_asks_for_it() {
        assert!(wants_password(":login ana"));
        assert!(wants_password(" :register ana "));
        assert!(!wants_password(":login ana clave"));
        assert!(!wants_password(":login"));
        assert!(!wants_password("hola ana"));
    }

    #[test]
    fn the_prompt_counts_down_the_sign_in_deadline_until_signed_in() {
        let now = Instant::now();
        let mut prompt = Prompt::new(&Mode::Tcp, false);
        assert_eq!(prompt.text(now), "chat@tcp> ");
        prompt.signin_deadline = Some(now + Duration::from_secs(60));
        assert_eq!(
            prompt.text(now + Duration::from_millis(17_500)),
            "chat@tcp 42s> "
        );
        assert_eq!(prompt.text(now + Duration::from_secs(90)), "chat@tcp 0s> ");
        prompt.name = Some("ana".into());
        assert_eq!(prompt.text(now), "ana@tcp> ", "ya entró: sin plazo");
        let reliable = Prompt::new(&Mode::Udp, true);
        assert_eq!(reliable.text(now), "chat@reliable-udp> ");
    }
}
