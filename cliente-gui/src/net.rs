//! La red del cliente gráfico: lanza el núcleo del cliente
//! (`chat::cliente::run_on`, el mismo del cliente de terminal) en sus
//! propios hilos y lo conecta con la ventana por dos canales. Nunca
//! bloquea al hilo de la ventana: enviar una línea es meterla en un canal,
//! y lo que el núcleo muestra llega por otro, con un `request_repaint` para
//! que la ventana se redibuje aunque el usuario no toque nada.
//!
//! No conoce el protocolo: las líneas las arma `model`, y el inicio de
//! sesión, el token UDP y la cookie los maneja el núcleo.

use crate::model::Request;
use chat::cliente::{self, Ending, Screen, Shown};
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

/// Lo que llega de la red a la ventana.
#[derive(Debug)]
pub enum Incoming {
    /// Algo que el núcleo muestra.
    Shown(Shown),
    /// La sesión terminó; el texto dice por qué, en español.
    Ended(String),
}

/// Avisa a la ventana que hay algo nuevo (en la ventana real,
/// `egui::Context::request_repaint`).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// La pantalla que el núcleo ve: cada cosa mostrada va al canal.
struct Channel {
    events: Sender<Incoming>,
    wake: Wake,
}

impl Screen for Channel {
    fn show(&self, shown: Shown) {
        // Si la ventana ya se cerró no hay a quién mostrarle nada.
        let _ = self.events.send(Incoming::Shown(shown));
        (self.wake)();
    }
}

/// Las sesiones de una ventana: a lo sumo una abierta a la vez.
pub struct Network {
    events: Sender<Incoming>,
    wake: Wake,
    /// Las líneas hacia la sesión abierta. Soltarlo termina la entrada del
    /// núcleo, que entonces envía `:q`.
    lines: Option<Sender<String>>,
}

impl Network {
    /// Una red sin sesión; lo que llegue irá por el canal que devuelve.
    pub fn new(wake: Wake) -> (Network, Receiver<Incoming>) {
        let (events, incoming) = mpsc::channel();
        let network = Network {
            events,
            wake,
            lines: None,
        };
        (network, incoming)
    }

    /// Hace lo que pide la ventana. Un error (no se pudo lanzar el hilo)
    /// llega como [`Incoming::Ended`], igual que una conexión rechazada.
    pub fn handle(&mut self, request: Request) {
        match request {
            Request::Connect(addr) => self.connect(addr),
            Request::Line(line) => {
                if let Some(lines) = &self.lines {
                    // Si la sesión ya terminó, su fin ya viene en camino.
                    let _ = lines.send(line);
                }
            }
        }
    }

    fn connect(&mut self, addr: String) {
        let (lines, input) = mpsc::channel();
        // La sesión anterior, si la hay, recibe el fin de su entrada.
        self.lines = Some(lines);
        let events = self.events.clone();
        let wake = Arc::clone(&self.wake);
        let spawned = thread::Builder::new().name("sesión".into()).spawn(move || {
            let ended = session(&addr, input, &events, &wake);
            let _ = events.send(Incoming::Ended(ended));
            wake();
        });
        if let Err(error) = spawned {
            let _ = self.events.send(Incoming::Ended(format!(
                "No se pudo lanzar la sesión: {error}"
            )));
        }
    }
}

/// Una sesión entera con el servidor en `addr`; devuelve por qué terminó.
fn session(addr: &str, input: Receiver<String>, events: &Sender<Incoming>, wake: &Wake) -> String {
    // El cliente del curso, por TCP: el gráfico no tiene laboratorio.
    if chat::protocolo::host_and_port(addr).is_err() {
        return format!("La dirección {addr} no es válida.");
    }
    let settings = cliente::Settings {
        addr: addr.to_string(),
        ..cliente::Settings::default()
    };
    let screen = Channel {
        events: events.clone(),
        wake: Arc::clone(wake),
    };
    describe(
        addr,
        cliente::run_on(
            &settings,
            cliente::Plugins::default(),
            input.into_iter(),
            Arc::new(screen),
        ),
    )
}

/// El fin de una sesión, en palabras.
fn describe(addr: &str, result: io::Result<Ending>) -> String {
    let ending = match result {
        Ok(ending) => ending,
        Err(error) => return format!("No se pudo conectar con {addr}: {error}"),
    };
    match ending {
        Ending::Left => "La sesión terminó: el servidor se despidió.",
        Ending::Lost => "Se perdió la conexión con el servidor.",
        Ending::Unreachable => "El servidor no respondió.",
        Ending::ShuttingDown => "El servidor se apagó.",
        Ending::SigninDeadline => "No se inició sesión a tiempo: el servidor cerró la conexión.",
        Ending::ServerFull => "El servidor está lleno.",
        Ending::TooManyFailures => {
            "Demasiadas contraseñas fallidas: el servidor cerró la conexión."
        }
        Ending::Replaced => "Entraste con tu cuenta desde otra dirección: esta sesión se cerró.",
    }
    .to_string()
}
