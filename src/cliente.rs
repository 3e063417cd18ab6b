//! El cliente de terminal: manda cada línea que lee de la entrada estándar y
//! muestra cada línea que llega del servidor. Un hilo envía y otro recibe,
//! porque los mensajes de los demás llegan en cualquier momento, no solo como
//! respuesta a lo que uno escribe (enunciado 000: un hilo envía, otro recibe).
//!
//! Tres modos:
//! - TCP (por defecto): la conexión TCP, más un socket UDP que se abre al
//!   recibir el token, para el relay punto a punto del enunciado 001: `:udp`
//!   y `:tcp` eligen por dónde viajan las líneas siguientes (el "radio
//!   button" de protocolo del enunciado).
//! - `--udp`: solo UDP, como el enunciado 000; cada datagrama lleva el token.
//! - `--echo MENSAJE`: cliente del servidor de eco (enunciado 002).
//!
//! Hasta entrar a la sala avanza "al paso": tras cada línea espera la
//! respuesta completa del servidor. Así, con la entrada en una tubería (un
//! guion), el resultado es el mismo que escribiendo a mano. Ya en la sala,
//! muestra las líneas propias como `Me: hola` (enunciado 004, punto 3). No
//! interpreta reglas del chat: el servidor decide todo.

use crate::protocolo::{self, Command, Event};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Cuánto espera, como mucho, la respuesta a una línea antes de entrar a la
/// sala (y la respuesta del eco). Pasado ese tiempo sigue igual.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// Cada cuánto despierta un receptor UDP para ver si debe terminar.
const UDP_POLL: Duration = Duration::from_millis(200);

/// Cuánto espera el modo `--udp` la despedida tras enviar `:q` (un
/// datagrama perdido no se reenvía).
const UDP_GOODBYE_WAIT: Duration = Duration::from_secs(5);

/// Hasta cuántos bytes se rellena un datagrama mientras la dirección UDP no
/// está probada: con 64, el triple (lo más que el servidor responde a una
/// dirección sin probar) deja lugar de sobra para la cookie.
const UNPROVEN_DATAGRAM_BYTES: usize = 64;

/// El texto de `cliente --help`.
pub const USAGE: &str = "\
Uso: cliente [opciones]

Cliente de terminal del chat. Lee líneas de la entrada estándar (teclado o
tubería) y las envía; muestra lo que llega del servidor. El fin de la entrada
(Ctrl-D) equivale a :q.

Opciones:
  --addr HOST:PUERTO   servidor al que conectarse (por defecto 127.0.0.1:5500)
  --udp                usar solo UDP (cada datagrama lleva el token de la sesión)
  --echo MENSAJE       enviar MENSAJE al servidor de eco, mostrar la respuesta y salir
  --help               muestra esta ayuda

Dentro del chat: :register <nombre> <clave>, :login <nombre> <clave>, :help.
En modo TCP, :udp y :tcp eligen por dónde viajan las líneas siguientes.
";

/// Cómo habla el cliente con el servidor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// TCP, con UDP opcional para algunas líneas (`:udp`/`:tcp`).
    Tcp,
    /// Solo UDP.
    Udp,
    /// Una línea al servidor de eco.
    Echo(String),
}

/// La configuración del cliente.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Dirección del servidor (`HOST:PUERTO`).
    pub addr: String,
    /// El modo.
    pub mode: Mode,
}

/// Lee los argumentos (sin el nombre del programa). `Ok(None)` si se pidió
/// `--help`. Error: un texto que explica el argumento malo.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        addr: protocolo::DEFAULT_ADDR.into(),
        mode: Mode::Tcp,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--addr" => config.addr = args.next().ok_or("--addr needs a value")?,
            "--udp" => config.mode = Mode::Udp,
            "--echo" => config.mode = Mode::Echo(args.next().ok_or("--echo needs a message")?),
            other => match other.strip_prefix("--addr=") {
                Some(addr) => config.addr = addr.into(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        }
    }
    Ok(Some(config))
}

/// Corre el cliente hasta que la sesión termina.
///
/// `input` son las líneas del usuario; `output` recibe lo que se muestra.
/// Devuelve `Ok(true)` si el servidor se despidió (o, con `--echo`, si
/// respondió), `Ok(false)` si no. Error: no se pudo conectar.
pub fn run(
    config: &Config,
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> io::Result<bool> {
    let output: Output = Arc::new(Mutex::new(Box::new(output)));
    match &config.mode {
        Mode::Tcp => run_tcp(&config.addr, input, output),
        Mode::Udp => run_udp(&config.addr, input, output),
        Mode::Echo(message) => run_echo(&config.addr, message, &output),
    }
}

type Output = Arc<Mutex<Box<dyn Write + Send>>>;

fn print_line(output: &Output, line: &str) {
    let mut out = crate::sync::lock(output);
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Outside,
    AwaitingBalance,
    Joined,
}

struct State {
    stage: Stage,
    /// Respuestas completas recibidas del servidor (para esperar la de la
    /// última línea enviada antes de enviar la siguiente).
    replies: u64,
    /// El nombre de la última línea `:login`/`:register` enviada.
    name: Option<String>,
    /// El token de la sesión, cuando llega.
    token: Option<String>,
    /// El socket UDP (siempre en modo `--udp`; en modo TCP, tras el token).
    udp: Option<Arc<UdpSocket>>,
    /// El servidor ya respondió algo que no es una cookie a este socket UDP:
    /// su dirección está probada (ver `cookie` en el servidor).
    udp_proven: bool,
    /// Los datagramas enviados mientras la dirección no estaba probada, en
    /// orden, para repetirlos con la cookie delante cuando llegue.
    unproven: Vec<String>,
    /// En modo TCP: las líneas salen por UDP (`:udp`) en vez de TCP.
    lines_by_udp: bool,
    /// Se terminó la entrada del usuario.
    input_done: bool,
    /// El servidor se despidió.
    said_goodbye: bool,
    /// La conexión terminó.
    closed: bool,
}

/// Lo que comparten el hilo que envía y los que reciben.
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    output: Output,
    server: SocketAddr,
}

impl Shared {
    fn new(output: Output, server: SocketAddr, udp: Option<Arc<UdpSocket>>) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                stage: Stage::Outside,
                replies: 0,
                name: None,
                token: None,
                udp,
                udp_proven: false,
                unproven: Vec::new(),
                lines_by_udp: false,
                input_done: false,
                said_goodbye: false,
                closed: false,
            }),
            changed: Condvar::new(),
            output,
            server,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Muestra una línea del servidor y actualiza el estado. Devuelve el
    /// evento reconocido, si lo hay.
    fn receive(&self, line: &str, me: SocketAddr) -> Option<Event> {
        let event = Event::parse(line);
        // El token es un secreto: quien lo ve (un proyector en el aula)
        // puede usar la sesión y transferir el dinero. El cliente lo guarda
        // para `:udp` y `--udp`, y no lo muestra (issue #13).
        if !matches!(event, Some(Event::Token(_) | Event::UdpToken(_))) {
            print_line(&self.output, line);
        }
        let mut state = self.lock();
        // Una respuesta termina en su última línea: `Welcome` y el token
        // siempre van seguidos de otra, y un error mientras se espera el
        // saldo, de la pregunta repetida.
        let last_of_reply = match &event {
            Some(Event::Welcome | Event::Token(_) | Event::UdpToken(_)) => false,
            Some(Event::Error(_)) => state.stage != Stage::AwaitingBalance,
            _ => true,
        };
        if last_of_reply {
            state.replies += 1;
        }
        match &event {
            Some(Event::Welcome) => {
                let name = state.name.clone().unwrap_or_default();
                print_line(
                    &self.output,
                    &format!(
                        "You are {name}, from {me}, connected to the server at {}.",
                        self.server
                    ),
                );
            }
            Some(Event::Token(token) | Event::UdpToken(token)) => {
                state.token = Some(token.clone());
            }
            Some(Event::AskBalance) => state.stage = Stage::AwaitingBalance,
            Some(Event::BalanceSet(_) | Event::Funds(_)) => state.stage = Stage::Joined,
            Some(Event::Goodbye) => state.said_goodbye = true,
            _ => {}
        }
        drop(state);
        self.changed.notify_all();
        event
    }

    /// Envía `line` por UDP (con el token delante, si hay). Mientras la
    /// dirección no está probada, lo guarda (para repetirlo con la cookie)
    /// y lo rellena con espacios hasta [`UNPROVEN_DATAGRAM_BYTES`]: el
    /// servidor responde a una dirección sin probar a lo sumo el triple de lo
    /// que recibió, y la cookie no cabría en el triple de `:login a b`.
    fn send_datagram(&self, udp: &UdpSocket, token: Option<&str>, line: &str) -> io::Result<()> {
        let mut datagram = match token {
            Some(token) => format!("{token} {line}"),
            None => line.to_string(),
        };
        {
            let mut state = self.lock();
            if !state.udp_proven {
                let pad = UNPROVEN_DATAGRAM_BYTES.saturating_sub(datagram.len() + 1);
                datagram.push_str(&" ".repeat(pad));
                state.unproven.push(datagram.clone());
            }
        }
        datagram.push('\n');
        udp.send(datagram.as_bytes()).map(|_| ())
    }

    /// El servidor pidió probar la dirección: se repite, con la cookie
    /// delante y en orden, cada datagrama enviado sin probar. La cookie vale
    /// para todos (es de la dirección), y cada uno se repite una sola vez:
    /// las cookies que lleguen después para los mismos ya no encuentran
    /// nada que repetir.
    fn resend_with_cookie(&self, udp: &UdpSocket, cookie: &str) {
        let pending = std::mem::take(&mut self.lock().unproven);
        for datagram in pending {
            let _ = udp.send(format!("{cookie} {datagram}\n").as_bytes());
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Espera a que el contador de respuestas pase de `before` (o a que se
    /// cierre la conexión), como mucho [`REPLY_WAIT`].
    fn wait_for_reply(&self, before: u64) {
        let state = self.lock();
        let _ = self
            .changed
            .wait_timeout_while(state, REPLY_WAIT, |s| s.replies == before && !s.closed);
    }
}

fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    })
}

/// Un socket UDP "conectado" al servidor: `connect` en UDP no envía nada,
/// solo fija el destino de `send` y filtra lo que llega a ese origen.
fn udp_socket_for(server: SocketAddr) -> io::Result<UdpSocket> {
    let any = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(server)?;
    Ok(socket)
}

/// Recibe datagramas hasta que la sesión termina.
fn receive_datagrams(shared: &Shared, socket: &UdpSocket, stop_on_goodbye: bool) {
    let Ok(me) = socket.local_addr() else { return };
    if socket.set_read_timeout(Some(UDP_POLL)).is_err() {
        return;
    }
    let mut buffer = vec![0u8; 65_536];
    let mut goodbye_deadline: Option<Instant> = None;
    loop {
        {
            let state = shared.lock();
            if state.closed || (stop_on_goodbye && state.said_goodbye) {
                return;
            }
            // En modo --udp, terminada la entrada se espera la despedida un
            // rato; si no se entró nunca, no hay a quién esperar.
            if stop_on_goodbye && state.input_done {
                if state.token.is_none() {
                    return;
                }
                let deadline =
                    *goodbye_deadline.get_or_insert_with(|| Instant::now() + UDP_GOODBYE_WAIT);
                if Instant::now() >= deadline {
                    return;
                }
            }
        }
        match socket.recv(&mut buffer) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buffer[..n]);
                for line in text.lines() {
                    let event = Event::parse(line);
                    if let Some(Event::Cookie(cookie)) = &event {
                        shared.resend_with_cookie(socket, cookie);
                        continue;
                    }
                    // En modo TCP, tras el `:q` propio el token ya no vale:
                    // la respuesta tardía a un datagrama de antes (el
                    // `:ping` que presenta la dirección UDP) no es noticia.
                    if !stop_on_goodbye
                        && shared.lock().input_done
                        && event == Some(Event::Error(protocolo::Problem::BadToken))
                    {
                        continue;
                    }
                    {
                        // Una respuesta de verdad: la dirección está probada,
                        // y nada de lo guardado hace falta repetirlo.
                        let mut state = shared.lock();
                        state.udp_proven = true;
                        state.unproven.clear();
                    }
                    shared.receive(line, me);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // Un ICMP "puerto inalcanzable": el servidor no está (aún).
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(_) => return,
        }
    }
}

/// Por dónde sale una línea del usuario.
enum Wire {
    Tcp(TcpStream),
    Udp,
}

/// El hilo emisor: cada línea de `input` va al servidor; al terminar la
/// entrada, envía `:q`.
fn send_lines(input: impl BufRead, mut wire: Wire, shared: &Shared) {
    if matches!(wire, Wire::Tcp(_)) {
        // Primero el saludo del servidor: si no, se lo contaría como la
        // respuesta a la primera línea. (UDP no saluda: no hay conexión.)
        shared.wait_for_reply(0);
    }
    for line in input.split(b'\n') {
        let Ok(raw) = line else { break };
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim_end_matches('\r');
        if let Wire::Tcp(_) = wire
            && let Some(by_udp) = transport_switch(line)
        {
            switch_transport(shared, by_udp);
            continue;
        }
        let parsed = protocolo::parse_command(line);
        let (stage, before, token, udp) = {
            let mut state = shared.lock();
            if state.closed || state.said_goodbye {
                return;
            }
            if let Ok(Some(Command::Login { name, .. } | Command::Register { name, .. })) = &parsed
            {
                state.name = Some(name.clone());
            }
            // `:q` cierra la sesión TCP por TCP aunque las líneas viajen por UDP.
            let quitting = parsed == Ok(Some(Command::Quit));
            let by_udp = matches!(wire, Wire::Udp) || (state.lines_by_udp && !quitting);
            let udp = state.udp.clone().filter(|_| by_udp);
            (state.stage, state.replies, state.token.clone(), udp)
        };
        if stage == Stage::Joined {
            echo_own_line(&shared.output, line, &parsed);
        }
        let sent = match (&mut wire, udp) {
            (_, Some(udp)) => shared.send_datagram(&udp, token.as_deref(), line),
            (Wire::Tcp(stream), None) => stream.write_all(format!("{line}\n").as_bytes()),
            (Wire::Udp, None) => Ok(()),
        };
        if sent.is_err() {
            break;
        }
        if parsed == Ok(Some(Command::Quit)) {
            return;
        }
        // Antes de entrar a la sala, cada línea no vacía tiene respuesta:
        // se espera para que la siguiente se interprete en la etapa correcta.
        if stage != Stage::Joined && !line.trim().is_empty() {
            shared.wait_for_reply(before);
        }
    }
    // Fin de la entrada: igual que :q.
    let (token, udp) = {
        let mut state = shared.lock();
        state.input_done = true;
        (state.token.clone(), state.udp.clone())
    };
    shared.changed.notify_all();
    match (wire, udp, token) {
        (Wire::Tcp(mut stream), _, _) => {
            // Cerrar el sentido de escritura avisa al servidor aun si ya no lee.
            let _ = stream.write_all(b":q\n");
            let _ = stream.shutdown(Shutdown::Write);
        }
        (Wire::Udp, Some(udp), Some(token)) => {
            let _ = shared.send_datagram(&udp, Some(&token), ":q");
        }
        (Wire::Udp, _, _) => {}
    }
}

/// `:udp` o `:tcp` (solo del cliente, no se envían): `Some(true)` = por UDP.
fn transport_switch(line: &str) -> Option<bool> {
    match line.trim() {
        ":udp" => Some(true),
        ":tcp" => Some(false),
        _ => None,
    }
}

fn switch_transport(shared: &Shared, by_udp: bool) {
    let mut state = shared.lock();
    let message = if by_udp && state.udp.is_none() {
        "UDP is not ready yet: sign in first."
    } else {
        state.lines_by_udp = by_udp;
        if by_udp {
            "Your lines now travel by UDP."
        } else {
            "Your lines now travel by TCP."
        }
    };
    drop(state);
    print_line(&shared.output, message);
}

fn echo_own_line(
    output: &Output,
    line: &str,
    parsed: &Result<Option<Command>, protocolo::Problem>,
) {
    let shown = match parsed {
        Ok(Some(Command::Public(text))) => protocolo::render_text(text),
        // Una contraseña no se repite en pantalla, ni siquiera la propia.
        Ok(Some(Command::Login { .. } | Command::Register { .. })) => String::new(),
        _ => line.to_string(),
    };
    if !shown.trim().is_empty() {
        print_line(output, &format!("Me: {shown}"));
    }
}

fn run_tcp(addr: &str, input: impl BufRead + Send + 'static, output: Output) -> io::Result<bool> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let me = stream.local_addr()?;
    let server = stream.peer_addr()?;
    let shared = Shared::new(output, server, None);
    {
        let (stream, shared) = (stream.try_clone()?, Arc::clone(&shared));
        // El emisor puede quedar bloqueado leyendo el teclado: no se espera.
        thread::Builder::new()
            .name("sender".into())
            .spawn(move || send_lines(input, Wire::Tcp(stream), &shared))?;
    }
    let mut reader = BufReader::new(stream);
    let mut raw = Vec::new();
    let mut pinged = false;
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&raw);
        let line = text.trim_end_matches(['\n', '\r']);
        match shared.receive(line, me) {
            Some(Event::UdpToken(_)) => open_udp_side(&shared, me),
            // Ya en la sala, sin respuestas pendientes que confundir: se le
            // dice al servidor la dirección UDP de este cliente.
            Some(Event::BalanceSet(_) | Event::Funds(_)) if !pinged => {
                pinged = true;
                let (udp, token) = {
                    let state = shared.lock();
                    (state.udp.clone(), state.token.clone())
                };
                if let (Some(udp), Some(token)) = (udp, token) {
                    let _ = shared.send_datagram(&udp, Some(&token), ":ping");
                }
            }
            _ => {}
        }
    }
    shared.close();
    Ok(shared.lock().said_goodbye)
}

/// Con el token de una sesión TCP, abre el socket UDP y lanza su receptor.
fn open_udp_side(shared: &Arc<Shared>, tcp_me: SocketAddr) {
    let socket = match udp_socket_for(shared.server) {
        Ok(socket) => Arc::new(socket),
        Err(error) => {
            return print_line(&shared.output, &format!("UDP is not available: {error}"));
        }
    };
    let udp_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    shared.lock().udp = Some(Arc::clone(&socket));
    let receiver = Arc::clone(shared);
    let receiving = Arc::clone(&socket);
    let spawned = thread::Builder::new()
        .name("udp receiver".into())
        .spawn(move || receive_datagrams(&receiver, &receiving, false));
    if spawned.is_err() {
        return;
    }
    print_line(
        &shared.output,
        &format!(
            "Your TCP port is {}, your UDP port is {udp_port}. Type :udp or :tcp to choose how your lines travel.",
            tcp_me.port()
        ),
    );
}

fn run_udp(addr: &str, input: impl BufRead + Send + 'static, output: Output) -> io::Result<bool> {
    let server = resolve(addr)?;
    let socket = Arc::new(udp_socket_for(server)?);
    let shared = Shared::new(output, server, Some(Arc::clone(&socket)));
    print_line(
        &shared.output,
        &format!(
            "UDP client on port {}, server {server}. Sign in with :login <name> <password> or :register <name> <password>.",
            socket.local_addr()?.port()
        ),
    );
    {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("sender".into())
            .spawn(move || send_lines(input, Wire::Udp, &shared))?;
    }
    receive_datagrams(&shared, &socket, true);
    shared.close();
    Ok(shared.lock().said_goodbye)
}

fn run_echo(addr: &str, message: &str, output: &Output) -> io::Result<bool> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(REPLY_WAIT))?;
    stream.write_all(format!("{message}\n").as_bytes())?;
    let mut answer = Vec::new();
    let got = BufReader::new(&stream).read_until(b'\n', &mut answer);
    if !matches!(got, Ok(n) if n > 0) || answer.last() != Some(&b'\n') {
        return Ok(false);
    }
    let text = String::from_utf8_lossy(&answer);
    print_line(output, text.trim_end_matches(['\n', '\r']));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let args = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let config = |addr: &str, mode: Mode| {
            Ok(Some(Config {
                addr: addr.into(),
                mode,
            }))
        };
        assert_eq!(parse_args(args(&[])), config("127.0.0.1:5500", Mode::Tcp));
        assert_eq!(
            parse_args(args(&["--addr", "[::1]:7", "--udp"])),
            config("[::1]:7", Mode::Udp)
        );
        assert_eq!(
            parse_args(args(&["--echo", "Hola Server!"])),
            config("127.0.0.1:5500", Mode::Echo("Hola Server!".into()))
        );
        assert_eq!(parse_args(args(&["--help"])), Ok(None));
        assert!(parse_args(args(&["--addr"])).is_err());
        assert!(parse_args(args(&["--echo"])).is_err());
        assert!(parse_args(args(&["x"])).is_err());
    }

    #[test]
    fn transport_switches_are_local_commands() {
        assert_eq!(transport_switch(":udp"), Some(true));
        assert_eq!(transport_switch(" :tcp "), Some(false));
        assert_eq!(transport_switch(":udp hola"), None);
        assert_eq!(transport_switch("udp"), None);
    }
}
