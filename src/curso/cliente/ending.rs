//! Cómo terminó una sesión del cliente, y con qué código de salida. El
//! núcleo lo deduce del último aviso del servidor antes del cierre (la
//! despedida, el apagado, el plazo para iniciar sesión...); cada interfaz
//! lo muestra a su modo. No sabe nada de sockets.

/// Por qué terminó la sesión. El código de salida de `cliente` es
/// [`Ending::code`]; `cliente --help` los lista.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// El usuario salió (`:q`, fin de la entrada) y el servidor se
    /// despidió. Código 0.
    Left,
    /// La conexión se cortó sin despedida ni aviso: la red, un servidor que
    /// murió, o una cola de salida llena (un cliente que no lee no puede
    /// recibir el aviso). Código 1.
    Lost,
    /// No hay servidor en esa dirección: TCP rechazado, o por UDP nadie
    /// respondió tras varios intentos. Código 3.
    Unreachable,
    /// El servidor se apagó (`The server is shutting down.`). Código 4.
    ShuttingDown,
    /// No se inició sesión a tiempo (`--signin-timeout-secs` del
    /// servidor). Código 5.
    SigninDeadline,
    /// El servidor está lleno, o hay demasiadas conexiones desde esta
    /// dirección. Código 6.
    ServerFull,
    /// Demasiadas contraseñas fallidas en esta conexión. Código 7.
    TooManyFailures,
    /// Se entró con la misma cuenta desde otra dirección, y el servidor
    /// cerró esta sesión solo-UDP (`You signed in from another address`).
    /// Código 8.
    Replaced,
}

impl Ending {
    /// El código de salida del programa `cliente` (el 2 es el de un uso
    /// incorrecto de la línea de comandos, ver `cli`).
    pub fn code(self) -> u8 {
        match self {
            Ending::Left => 0,
            Ending::Lost => 1,
            Ending::Unreachable => 3,
            Ending::ShuttingDown => 4,
            Ending::SigninDeadline => 5,
            Ending::ServerFull => 6,
            Ending::TooManyFailures => 7,
            Ending::Replaced => 8,
        }
    }

    /// Por qué, en una línea, como la muestra el cliente al salir.
    pub fn reason(self) -> &'static str {
        match self {
            Ending::Left => "You left the chat.",
            Ending::Lost => "The connection to the server was lost.",
            Ending::Unreachable => "The server did not answer.",
            Ending::ShuttingDown => "The server shut down.",
            Ending::SigninDeadline => "You did not sign in in time.",
            Ending::ServerFull => "The server is full.",
            Ending::TooManyFailures => "Too many failed sign-ins.",
            Ending::Replaced => "You signed in from another address.",
        }
    }

    /// El código de salida del programa `cliente` para lo que devolvió una
    /// sesión con el servidor `addr`; salvo al salir bien, dice en la
    /// salida de errores por qué terminó.
    pub fn exit(result: std::io::Result<Ending>, addr: &str) -> std::process::ExitCode {
        let ending = match result {
            Ok(Ending::Left) => Ending::Left,
            Ok(ending) => {
                eprintln!("cliente: {}", ending.reason());
                ending
            }
            Err(error) => {
                eprintln!("cliente: cannot talk to {addr}: {error}");
                Ending::Unreachable
            }
        };
        std::process::ExitCode::from(ending.code())
    }
}

#[cfg(test)]
pub const ALL: [Ending; 8] = [
    Ending::Left,
    Ending::Lost,
    Ending::Unreachable,
    Ending::ShuttingDown,
    Ending::SigninDeadline,
    Ending::ServerFull,
    Ending::TooManyFailures,
    Ending::Replaced,
];
