//! La suite de conformidad: califica cualquier servidor de chat (el de
//! este proyecto, o el de un alumno en Python) contra el contrato de los
//! enunciados, requisito por requisito, y arma la tabla que pega el
//! docente. La usan `cargo test --test conformidad` y
//! `cargo run --bin calificar`.
//!
//! - [`target`]: cómo se arranca el servidor calificado y qué imprime.
//! - [`wire`]: los clientes TCP y UDP de la suite, con esperas acotadas.
//! - [`checks`]: lo que pide cada requisito.
//!
//! No es parte del curso: es una herramienta del docente, y no la usa el
//! servidor.

pub mod checks;
pub mod target;
pub mod wire;

pub use target::{Mode, Target};

use checks::{Trial, Verdict};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

/// Cuánto espera la suite, por omisión, cada línea que un requisito
/// espera: 10 s. Un servidor sano responde en milisegundos; el margen es
/// para una máquina cargada. Un requisito que falla tarda a lo sumo eso
/// por la expectativa que no llegó.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Cuánto se espera, como mínimo, la primera línea de un servidor que la
/// suite arranca: 30 s. La suite arranca uno por requisito, todos a la vez,
/// y en una máquina cargada un intérprete tarda en arrancar; el arranque no
/// es lo que se califica.
pub const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// Un requisito de un enunciado.
pub struct Requirement {
    /// El enunciado y su punto: `003.1`, `004.7`, `000`.
    pub id: &'static str,
    /// Qué pide, en una línea.
    pub title: &'static str,
    /// El nombre de su prueba en `tests/conformidad.rs`, para saltarla
    /// con `--skip`.
    pub test: &'static str,
    mode: Mode,
    /// Solo mira la consola del servidor: sin ella, no se califica.
    console_only: bool,
    check: fn(&mut Trial) -> Verdict,
}

const fn chat(
    id: &'static str,
    test: &'static str,
    title: &'static str,
    check: fn(&mut Trial) -> Verdict,
) -> Requirement {
    Requirement {
        id,
        title,
        test,
        mode: Mode::Chat,
        console_only: false,
        check,
    }
}

/// Los requisitos, en el orden y con la numeración de los enunciados
/// (`../shared/seeds/` en el repositorio del curso; README, "Calificar el
/// servidor de otro").
pub const REQUIREMENTS: &[Requirement] = &[
    chat(
        "003.1",
        "r003_1_six_clients",
        "al menos 6 clientes a la vez",
        checks::six_clients,
    ),
    chat(
        "003.2",
        "r003_2_unique_names",
        "cada cliente con un identificador único",
        checks::unique_names,
    ),
    Requirement {
        console_only: true,
        ..chat(
            "003.3",
            "r003_3_console_messages",
            "los mensajes en la consola del servidor: `<Identifier>: Message`",
            checks::console_messages,
        )
    },
    chat(
        "003.4",
        "r003_4_connect_notice",
        "al conectarse: el saludo al cliente y el aviso en la consola",
        checks::connect_notice,
    ),
    chat(
        "003.5",
        "r003_5_quit",
        "`:q` cierra el socket",
        checks::quit_closes,
    ),
    chat(
        "003.6",
        "r003_6_threads",
        "un hilo por conexión: una conexión callada no detiene a nadie",
        checks::thread_per_client,
    ),
    chat(
        "004.1",
        "r004_1_six_clients",
        "al menos 6 clientes a la vez",
        checks::six_clients,
    ),
    chat(
        "004.2",
        "r004_2_unique_names",
        "cada cliente con un identificador único",
        checks::unique_names,
    ),
    chat(
        "004.3",
        "r004_3_messages",
        "los mensajes en la consola de cada usuario, `Me:` para los propios",
        checks::messages_and_me,
    ),
    chat(
        "004.4",
        "r004_4_notices",
        "avisos de conexión y desconexión: en el servidor, al usuario y a los demás",
        checks::join_and_leave_notices,
    ),
    chat(
        "004.5",
        "r004_5_balance",
        "al entrar se pregunta el saldo, solo a quien entra",
        checks::balance_on_entry,
    ),
    chat(
        "004.6",
        "r004_6_ledger",
        "el servidor lleva los saldos; ninguno queda negativo",
        checks::balances_never_negative,
    ),
    chat(
        "004.7",
        "r004_7_commands",
        "los comandos `:q`, `:p`, `:u`, los emojis, `:funds` y `:t`",
        checks::commands,
    ),
    chat(
        "004.8",
        "r004_8_critical_sections",
        "hilos sin perder dinero: transferencias a la vez",
        checks::critical_sections,
    ),
    chat(
        "000",
        "r000_udp_tokens",
        "UDP: registro con token, el token en cada línea, difusión",
        checks::udp_tokens,
    ),
    chat(
        "001.1-2",
        "r001_1_tcp_and_udp",
        "clientes TCP y UDP a la vez, en el mismo puerto y la misma sala",
        checks::tcp_and_udp_together,
    ),
    chat(
        "001.4",
        "r001_4_point_to_point",
        "de un cliente a otro por el servidor, entre TCP y UDP",
        checks::point_to_point,
    ),
    Requirement {
        mode: Mode::Echo,
        ..chat(
            "002",
            "r002_echo",
            "el eco: cada mensaje vuelve tal cual, en UTF-8",
            checks::echo,
        )
    },
];

/// Cómo le fue a un requisito.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Cumple todo lo que el requisito pide.
    Pass,
    /// Pasó lo que se pudo mirar; lo de la consola del servidor, no.
    PassWithoutConsole,
    /// No se pudo calificar: por qué.
    Unchecked(String),
    /// La primera expectativa que falló, con lo que llegó.
    Fail(String),
}

impl Outcome {
    /// `true` salvo [`Outcome::Fail`].
    pub fn is_ok(&self) -> bool {
        !matches!(self, Outcome::Fail(_))
    }
}

/// El requisito `id` (`"004.7"`), si existe.
pub fn requirement(id: &str) -> Option<&'static Requirement> {
    REQUIREMENTS.iter().find(|r| r.id == id)
}

/// Califica un requisito contra `target`, esperando cada línea hasta
/// `wait`.
pub fn check(requirement: &Requirement, target: &Target, wait: Duration) -> Outcome {
    if !target.shows_console() {
        if requirement.console_only {
            return Outcome::Unchecked(
                "con SERVER_ADDR la suite no ve la consola del servidor".into(),
            );
        }
        if requirement.mode == Mode::Echo {
            return Outcome::Unchecked(
                "el eco se califica con SERVER_CMD: la suite lo arranca con --echo".into(),
            );
        }
    }
    let running = match target.start(requirement.mode, wait.max(STARTUP_WAIT)) {
        Ok(running) => running,
        Err(why) => return Outcome::Fail(why),
    };
    let mut trial = Trial::new(running, wait);
    match (requirement.check)(&mut trial) {
        Ok(()) if trial.console_unchecked => Outcome::PassWithoutConsole,
        Ok(()) => Outcome::Pass,
        Err(why) => Outcome::Fail(why),
    }
}

/// Califica todos los requisitos menos los que `skip` nombra (por su
/// número, `000`, o por su prueba, `r002_echo`; un prefijo alcanza:
/// `001` salta los dos del enunciado 001), todos a la vez, cada uno con su
/// servidor. En el orden de [`REQUIREMENTS`].
pub fn check_all(
    target: &Target,
    wait: Duration,
    skip: &[String],
) -> Vec<(&'static Requirement, Outcome)> {
    let chosen: Vec<&'static Requirement> = REQUIREMENTS
        .iter()
        .filter(|r| {
            !skip
                .iter()
                .any(|s| r.id.starts_with(s.as_str()) || r.test.starts_with(s.as_str()))
        })
        .collect();
    thread::scope(|scope| {
        let running: Vec<_> = chosen
            .iter()
            .map(|r| (*r, scope.spawn(move || check(r, target, wait))))
            .collect();
        running
            .into_iter()
            .map(|(r, handle)| {
                let outcome = handle
                    .join()
                    .unwrap_or_else(|_| Outcome::Fail("la verificación entró en pánico".into()));
                (r, outcome)
            })
            .collect()
    })
}

/// El servidor que piden las variables de entorno: `SERVER_CMD` (un
/// comando que la suite arranca) o `SERVER_ADDR` (uno que ya anda).
/// `None` si no hay ninguna. Error: `SERVER_ADDR` no es una dirección.
pub fn target_from_env() -> Option<Result<Target, String>> {
    if let Ok(command) = std::env::var("SERVER_CMD") {
        return Some(Ok(Target::Command(command)));
    }
    let addr = std::env::var("SERVER_ADDR").ok()?;
    Some(
        addr.parse::<SocketAddr>()
            .map(Target::Addr)
            .map_err(|e| format!("SERVER_ADDR={addr}: {e}")),
    )
}

/// La tabla en Markdown que pega el docente: una fila por requisito, con
/// el primer detalle que falló, y al final cuántos pasan.
pub fn report(outcomes: &[(&Requirement, Outcome)]) -> String {
    let mut table =
        String::from("| requisito | qué pide | resultado | detalle |\n|---|---|---|---|\n");
    for (requirement, outcome) in outcomes {
        let (verdict, detail) = match outcome {
            Outcome::Pass => ("pasa", String::new()),
            Outcome::PassWithoutConsole => (
                "pasa",
                "la consola del servidor no se miró (SERVER_ADDR)".to_string(),
            ),
            Outcome::Unchecked(why) => ("sin calificar", why.clone()),
            Outcome::Fail(why) => ("**falla**", why.clone()),
        };
        table.push_str(&format!(
            "| {} | {} | {verdict} | {} |\n",
            requirement.id,
            cell(requirement.title),
            cell(&detail)
        ));
    }
    let passed = outcomes.iter().filter(|(_, o)| o.is_ok()).count();
    table.push_str(&format!(
        "\n{passed} de {} requisitos sin fallas.\n",
        outcomes.len()
    ));
    table
}

/// `text` dentro de una celda: sin `|` que corte la fila ni saltos de
/// línea.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
